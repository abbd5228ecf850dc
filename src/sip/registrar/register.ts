/**
 * The REGISTER handler (RFC 3261 §10.3): the steps between a REGISTER's
 * transaction and the location service (bindings.ts), in this order,
 * each answering and stopping on failure: a usable To (400), the
 * address's lockout (403), the certificate's AOR (403), authentication
 * (auth-gate.ts: 401, 400, 403), the phone's own AOR (§10.3 steps 3-5,
 * 403), the certificate rule (403), then the binding itself (bindings.ts:
 * 400, 423, 403) and 200 with every Contact and Date (§10.3 step 8).
 *
 * `--auth both` (default) asks for digest from everyone, on top of the
 * client certificate where there is one (device key and SIP secret: two
 * factors); `--auth cert` lets a verified phone certificate alone
 * authenticate (Kamailio's model, peers.md §3), digest only for phones
 * without a certificate.
 */
import type { ServerTransaction } from '../transaction/transaction.js';
import type { Flow } from '../transport/flow.js';
import { isSipUri } from '../message/uri.js';
import { DIGEST_CODES, type AuthGate } from './auth-gate.js';
import type { Binding } from './bindings.js';
import { registerFail, replyWarning, type RegisterFailCode, type ServerContext } from './context.js';
import type { RegistrarPhone as Phone } from './identity.js';

export class RegisterHandler {
  readonly #ctx: ServerContext;
  readonly #gate: AuthGate;
  /** When each flow last reported register.ok (refreshes are reported at most once a minute). */
  readonly #lastEvent = new Map<Flow, number>();

  constructor(ctx: ServerContext, gate: AuthGate) {
    this.#ctx = ctx;
    this.#gate = gate;
  }

  /** A flow that closed: nothing more to remember about it. */
  forget(flow: Flow): void {
    this.#lastEvent.delete(flow);
  }

  handle(tx: ServerTransaction): void {
    const req = tx.request;
    const flow = tx.flow;
    const { identities, registrar } = this.#ctx;
    const to = req.to();
    if (!to.ok || !isSipUri(to.value.uri)) {
      this.#refuse(tx, undefined, 400, 'register.bad_request', 'the To of a REGISTER must be a sip: or sips: URI (the address-of-record)');
      return;
    }
    const toUri = to.value.uri;
    if (this.#gate.blocked(req, flow)) {
      registerFail(this.#ctx, req, flow, undefined, 'register.locked_out', 'address locked out after repeated authentication failures', 403);
      return;
    }
    const certPhoneName = flow.tls?.certPhone;
    const certPhone = certPhoneName ? identities.phone(certPhoneName) : undefined;
    if (certPhone && !identities.isAorOf(certPhone, toUri)) {
      this.#refuse(tx, certPhone.name, 403, 'register.aor_mismatch', `certificate of ${certPhone.name} cannot register ${toUri.raw.slice(0, 100)}`);
      return;
    }
    let phone: Phone;
    let auth: string;
    if (certPhone && this.#ctx.auth === 'cert') {
      phone = certPhone;
      auth = 'certificate';
    } else {
      const proved = this.#gate.authenticate(tx, certPhone?.name, DIGEST_CODES.register, (status, code, reason, name) => registerFail(this.#ctx, req, flow, name, code, reason, status));
      if (!proved) return;
      phone = proved.phone;
      auth = proved.algorithm;
    }
    if (!identities.isAorOf(phone, toUri)) {
      this.#refuse(tx, phone.name, 403, 'register.aor_mismatch', `${phone.name} cannot register ${toUri.raw.slice(0, 100)} (its AOR is ${identities.aorOf(phone)})`);
      return;
    }
    if (!certPhone && identities.certRequired(phone)) {
      const why = identities.mode === 'required' ? '--client-cert required' : `its vendor ${phone.vendor} can present one`;
      this.#refuse(tx, phone.name, 403, 'register.cert_required', `${phone.name} must present its client certificate (${why})`);
      return;
    }
    const aor = identities.aorOf(phone);
    const outcome = registrar.register(req, aor, { flow, phone: phone.name, auth });
    if (!outcome.ok) {
      this.#refuse(tx, phone.name, outcome.status, outcome.code, outcome.reason, outcome.headers);
      return;
    }
    const headers: Array<[string, string]> = outcome.bindings.map((b) => ['Contact', registrar.contactValue(b)]);
    if (outcome.outbound) headers.push(['Require', 'outbound']);
    headers.push(['Date', new Date(this.#ctx.now()).toUTCString()]);
    tx.reply(200, { headers });
    if (outcome.added.length + outcome.refreshed.length > 0) {
      if (flow.identifiedBy !== 'certificate') {
        flow.phone = phone.name;
        flow.identifiedBy = 'registration';
      }
      flow.hold?.(registrar.heldUntil(flow) + 32_000);
    }
    this.#events(flow, phone, aor, auth, outcome.added, outcome.refreshed, outcome.removed);
  }

  #refuse(tx: ServerTransaction, phone: string | undefined, status: number, code: RegisterFailCode, reason: string, headers: ReadonlyArray<readonly [string, string]> = []): void {
    replyWarning(this.#ctx, tx, status, reason, headers);
    registerFail(this.#ctx, tx.request, tx.flow, phone, code, reason, status);
  }

  /**
   * register.ok for new bindings, and for refreshes at most once a minute
   * per connection (a phone refreshing every 30 s, or a load test, must
   * not flood the stream; `sipsec status` shows every binding live).
   */
  #events(flow: Flow, phone: Phone, aor: string, auth: string, added: readonly Binding[], refreshed: readonly Binding[], removed: readonly Binding[]): void {
    const now = this.#ctx.now();
    const last = this.#lastEvent.get(flow) ?? 0;
    const report = added.length > 0 ? added : now - last >= 60_000 ? refreshed : [];
    if (report.length > 0) this.#lastEvent.set(flow, now);
    for (const b of report) {
      this.#ctx.emit({
        event: 'register.ok',
        phone: phone.name,
        aor,
        contact: b.contactUri,
        remote: flow.remote,
        transport: flow.transport,
        expires: this.#ctx.registrar.secondsLeft(b),
        tlsVersion: flow.tls?.version,
        cipher: flow.tls?.cipher,
        certSerial: flow.tls?.certPhone ? flow.tls.certSerial : undefined,
        algorithm: auth,
        ...(added.includes(b) ? {} : { refresh: true }),
      });
    }
    for (const b of removed) {
      this.#ctx.emit({ event: 'register.end', phone: phone.name, aor, contact: b.contactUri, remote: flow.remote, reason: 'unregistered' });
    }
  }
}
