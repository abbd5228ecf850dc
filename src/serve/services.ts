import type { ServeRuntime, ServeService } from './serve.js';
import { startRegistrar, type RegistrarServiceOptions } from './registrar-service.js';
import { createEchoEndpoint } from '../media/echo-endpoint.js';
import { PortPool } from '../media/ports.js';
import type { SuiteName } from '../srtp/suites.js';

/** Registrar settings from the command line (everything but the port). */
export type RegistrarSettings = Omit<RegistrarServiceOptions, 'port'>;

/** The SRTP echo extension's settings; ext null = no echo. */
export interface EchoSettings {
  ext: string | null;
  rtpPorts: { min: number; max: number };
  /** Address in our SDP; default: our address on the caller's connection. */
  mediaAddress?: string | undefined;
  acceptSuites?: readonly SuiteName[] | undefined;
  maxCallMs?: number | undefined;
}

export const DEFAULT_ECHO: EchoSettings = { ext: '200', rtpPorts: { min: 20000, max: 29999 } };

/**
 * The services `serve` starts beside provisioning: the SIP/TLS registrar
 * and proxy (src/sip) with the SRTP echo extension (src/media) plugged in
 * as a local endpoint.
 */
export function registrarServices(sipPort: number | null, settings: RegistrarSettings = {}, echo: EchoSettings = DEFAULT_ECHO): Array<(rt: ServeRuntime) => Promise<ServeService>> {
  if (sipPort === null) return [];
  return [
    async (rt) => {
      const endpoints = [...(settings.endpoints ?? [])];
      const echoEndpoint =
        echo.ext === null
          ? undefined
          : createEchoEndpoint({
              ext: echo.ext,
              pool: new PortPool(echo.rtpPorts.min, echo.rtpPorts.max),
              bind: rt.bind,
              mediaAddress: (call) => echo.mediaAddress ?? (rt.bind !== '0.0.0.0' && rt.bind !== '::' ? rt.bind : call.caller.localAddress.replace(/^::ffff:/, '')),
              phone: (name) => rt.store.index.phones.find((p) => p.name === name),
              ...(echo.acceptSuites ? { acceptSuites: echo.acceptSuites } : {}),
              ...(echo.maxCallMs ? { maxCallMs: echo.maxCallMs } : {}),
              emit: (ev) => rt.bus.emit(ev),
            });
      if (echoEndpoint) endpoints.push(echoEndpoint);
      const registrar = await startRegistrar(rt, { ...settings, endpoints, port: sipPort });
      if (!echoEndpoint) return registrar;
      return {
        ...registrar,
        name: registrar.name,
        status: () => ({ ...registrar.status(), echo: { ext: echo.ext, rtpPorts: `${echo.rtpPorts.min}-${echo.rtpPorts.max}`, calls: echoEndpoint.calls() } }),
        close: () => registrar.close(),
        ...(registrar.reload ? { reload: () => registrar.reload!() } : {}),
        ...(registrar.actions ? { actions: registrar.actions } : {}),
      };
    },
  ];
}
