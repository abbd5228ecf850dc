/**
 * What a server transport writes into the top Via of every request it
 * receives (RFC 3261 §18.2.1, RFC 3581 §4): `received` when the packet's
 * source address differs from the sent-by host, and, when the client asked
 * with a bare `rport`, both `received` and `rport` with the source port.
 * Responses then go back to where the request really came from, which is
 * what makes phones behind NAT reachable.
 */
import { splitList } from '../message/headers.js';
import type { SipRequest } from '../message/message.js';
import { formatParams, param } from '../message/params.js';
import { err, ok, type Result } from '../message/result.js';
import { asciiLower } from '../message/syntax.js';
import { parseVia, type Via } from '../message/via.js';

function bare(host: string): string {
  return asciiLower(host.startsWith('[') ? host.slice(1, -1) : host);
}

/**
 * Stamps the top Via of `req` with the source `address` and `port` of the
 * packet. Returns the updated top Via. The address is written without
 * brackets for IPv6, as RFC 3261's grammar has it (RFC 5118 §4.5 notes
 * both forms are seen and both are accepted on input).
 */
export function stampReceived(req: SipRequest, address: string, port: number): Result<Via> {
  const vias = req.vias();
  if (!vias.ok) return vias;
  const top = vias.value[0]!;
  const wantsRport = top.rport !== undefined;
  const differs = bare(top.host) !== bare(address);
  if (!differs && !wantsRport) return ok(top);
  const params = top.params.filter((p) => p.key !== 'received' && p.key !== 'rport');
  params.push(param('received', bare(address)));
  if (wantsRport) params.push(param('rport', String(port)));
  const text = `${top.protocol}/${top.version}/${top.transport} ${top.host}${top.port === undefined ? '' : `:${top.port}`}${formatParams(params)}`;
  // The top Via is the first element of the first Via field, which may
  // hold several comma-separated values.
  const first = req.headers.first('via');
  if (first === undefined) return err('missing Via header');
  const items = splitList(first);
  if (!items.ok) return items;
  items.value[0] = text;
  req.headers.replaceFirst('via', items.value.join(', '));
  return parseVia(text);
}
