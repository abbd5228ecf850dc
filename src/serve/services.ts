import type { ServeRuntime, ServeService } from './serve.js';
import { startRegistrar, type RegistrarServiceOptions } from '../sip/registrar-service.js';

/** Registrar settings from the command line (everything but the port). */
export type RegistrarSettings = Omit<RegistrarServiceOptions, 'port'>;

/** The services `serve` starts beside provisioning: the SIP/TLS registrar and proxy (src/sip). */
export function registrarServices(sipPort: number | null, settings: RegistrarSettings = {}): Array<(rt: ServeRuntime) => Promise<ServeService>> {
  if (sipPort === null) return [];
  return [(rt) => startRegistrar(rt, { ...settings, port: sipPort })];
}
