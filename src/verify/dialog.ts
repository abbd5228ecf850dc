import { isSipUri, type SipResponse } from '../sip/message/index.js';

/**
 * The UAC side of a dialog set up by a 2xx to an INVITE (RFC 3261
 * §12.1.2): the remote target is the 2xx's Contact, the route set its
 * Record-Route in reverse order. Requests inside the dialog (the ACK of
 * the 2xx, BYE) go to the remote target through the route set (§12.2.1.1):
 * with a loose router first (`;lr`), Request-URI = remote target and the
 * route set as Route; with a strict router first, Request-URI = that
 * router's URI, Route = the rest plus the remote target.
 */
export interface UacDialog {
  remoteTarget: string;
  /** Record-Route values of the 2xx, reversed (name-addr text as received). */
  routeSet: Array<{ value: string; uri: string; loose: boolean }>;
}

export function uacDialog(res: SipResponse, fallbackTarget: string): UacDialog {
  const contacts = res.contacts();
  const remoteTarget = contacts.ok && contacts.value !== '*' && contacts.value[0] ? contacts.value[0].uri.raw : fallbackTarget;
  const rr = res.nameAddrs('record-route');
  const routeSet = (rr.ok ? rr.value : [])
    .map((na) => ({ value: na.bracketed ? na.raw : `<${na.uri.raw}>`, uri: na.uri.raw, loose: isSipUri(na.uri) && na.uri.params.some((p) => p.key === 'lr') }))
    .reverse();
  return { remoteTarget, routeSet };
}

/** Request-URI and Route header values for a request inside the dialog (§12.2.1.1). */
export function inDialogTarget(d: UacDialog): { uri: string; routes: string[] } {
  const first = d.routeSet[0];
  if (!first) return { uri: d.remoteTarget, routes: [] };
  if (first.loose) return { uri: d.remoteTarget, routes: d.routeSet.map((r) => r.value) };
  // Strict routing (RFC 2543 proxies): the first route becomes the Request-URI.
  return { uri: first.uri, routes: [...d.routeSet.slice(1).map((r) => r.value), `<${d.remoteTarget}>`] };
}
