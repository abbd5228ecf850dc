import type { Binding } from './bindings.js';
import type { TransactionLayer } from '../transaction/transaction.js';
import type { Flow } from '../transport/flow.js';
import { createRequest } from '../message/serializer.js';
import { token } from './local-endpoint.js';

/**
 * Unsolicited NOTIFY to a registered contact (the "check-sync" family:
 * Asterisk's `pjsip send notify`, Polycom, Snom, Yealink, Cisco SPA
 * `resync`). It is sent out of dialog with `Subscription-State:
 * terminated` (RFC 6665 §4.2.2 lets a notifier end at once) over the flow
 * the phone registered on (RFC 5626 §5.3): sipsec never dials a phone.
 */

export interface NotifyHost {
  readonly transactions: TransactionLayer;
  via(flow: Flow, branch: string): string;
}

export interface NotifyRequest {
  /** The Event header value, e.g. `check-sync;reboot=false`. */
  event: string;
  /** Our From URI (`sip:<domain>`): phones that check it see the registrar's domain. */
  from: string;
  /** A final response must arrive within this time; RFC 3261 Timer F (32 s) is too long for a person waiting. */
  timeoutMs?: number;
}

export interface NotifyOutcome {
  contact: string;
  remote: string;
  /** The final status, or 408 when none came in time, 503 when the connection closed first. */
  status: number;
  reason: string;
}

export function sendNotify(host: NotifyHost, binding: Binding, n: NotifyRequest): Promise<NotifyOutcome> {
  const flow = binding.source.flow;
  const branch = host.transactions.newBranch();
  const headers: Array<[string, string]> = [
    ['Via', host.via(flow, branch)],
    ['Max-Forwards', '70'],
    ['From', `<${n.from}>;tag=${token()}`],
    ['To', `<${binding.aor}>`],
    ['Call-ID', `${token(12)}@sipsec`],
    ['CSeq', '1 NOTIFY'],
    ['Event', n.event],
    ['Subscription-State', 'terminated'],
  ];
  const req = createRequest('NOTIFY', binding.contactUri, headers);
  const base = { contact: binding.contactUri, remote: flow.remote };
  return new Promise<NotifyOutcome>((resolve) => {
    let done = false;
    const finish = (status: number, reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...base, status, reason });
    };
    const timer = setTimeout(() => finish(408, 'no answer in time'), n.timeoutMs ?? 5000);
    timer.unref();
    host.transactions.sendRequest(req, branch, flow, {
      onResponse: (res) => {
        if (res.status >= 200) finish(res.status, res.reason);
      },
      onTimeout: () => finish(408, 'no answer (timer F)'),
      onTransportError: (_tx, reason) => finish(503, `connection closed: ${reason}`),
    });
  });
}
