import type { ServeRuntime, ServeService } from './serve.js';

/** The services `serve` starts beside provisioning. The registrar joins here. */
export function registrarServices(sipPort: number | null): Array<(rt: ServeRuntime) => Promise<ServeService>> {
  if (sipPort === null) return [];
  return [
    async (rt) => {
      rt.bus.emit({ event: 'serve.notice', note: `the SIP/TLS registrar (--sip-port ${sipPort}) is not available yet` });
      return { name: 'registrar', status: () => ({ available: false }), close: async () => undefined };
    },
  ];
}
