import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { parseDuration } from '../../provision/access.js';
import type { VerifyReport } from '../../verify/verify.js';
import type { ProbeReport, ProbeStep } from '../../verify/probe.js';
import { SUITE_NAMES, type SuiteName } from '../../srtp/suites.js';
import { openStore } from '../context.js';
import { note, out, printJson } from '../output.js';
import { probeJson, verifyJson } from '../json.js';

const MARK: Record<string, string> = { PASS: 'PASS', FAIL: 'FAIL', 'NOT SEEN': 'NOT SEEN', SKIP: 'SKIP' };

export function printVerify(r: VerifyReport): void {
  for (const p of r.phones) {
    out(`${p.phone} (${p.vendor}): ${p.ok ? 'works end to end' : 'needs attention'}\n`);
    for (const s of p.steps) {
      out(`  ${s.step.padEnd(13)} ${MARK[s.state]!.padEnd(8)} ${s.summary}\n`);
      if (s.hint) out(`  ${''.padEnd(13)} ${''.padEnd(8)} hint: ${s.hint}\n`);
    }
  }
}

export function printProbe(r: ProbeReport): void {
  out(`probe ${r.target} as ${r.phone}: ${r.ok ? 'PASS' : 'FAIL'}\n`);
  for (const s of r.steps) {
    out(`  ${s.step.padEnd(11)} ${s.result.padEnd(5)} ${s.detail}\n`);
    if (s.hint) out(`  ${''.padEnd(11)} ${''.padEnd(5)} hint: ${s.hint}\n`);
  }
}

export function register(program: Command): void {
  program
    .command('verify [name]')
    .description('watch the running serve until the phone has provisioned, connected over TLS, registered and called the echo; PASS/FAIL/NOT SEEN per step with hints')
    .option('--all', 'every phone in the inventory')
    .option('--timeout <duration>', 'how long to watch', '10m')
    .option('--json', 'print the report as JSON (live progress stays on stderr)')
    .option('--html <file>', 'also write a self-contained HTML report')
    .addHelpText(
      'after',
      `
Steps: provisioning (files fetched, over which protocol, which never), TLS (version, cipher, client
certificate, or the alert the phone sent), registration (digest, transport, expiry, contact) and a call
to the echo extension (SDES suite, SRTP packets each way, authentication failures, one-way audio).
verify ends when every phone passes or the timeout is up; Ctrl-C ends it early and still prints the
report (and writes --html). The exit code is 0 only when every phone passes.

Examples:
  sipsec serve &                      # in another terminal
  sipsec verify telefono1             # now reboot the phone and call 200 from it
  sipsec verify --all --timeout 30m --html report.html`,
    )
    .action(async (name: string | undefined, o: { all?: boolean; timeout: string; json?: boolean; html?: string }, cmd: Command) => {
      if (!name && !o.all) throw new SipsecError('BAD_INPUT', 'name a phone or give --all', 'e.g. sipsec verify telefono1');
      if (name && o.all) throw new SipsecError('BAD_INPUT', 'give a phone name or --all, not both', 'choose one');
      const timeoutMs = parseDuration(o.timeout);
      if (timeoutMs === undefined || timeoutMs <= 0) throw new SipsecError('BAD_INPUT', `invalid --timeout '${o.timeout}'`, 'write it as 10m, 90s or 1h');
      const store = await openStore(cmd);
      const [{ verify }, { renderHtml }, { fetchStatus, followEvents }] = await Promise.all([import('../../verify/verify.js'), import('../../verify/html.js'), import('../../serve/control.js')]);
      const socket = `${store.paths.root}/serve.sock`;
      const status = await fetchStatus(socket);
      const registrar = status.registrar as { echo?: { ext?: string } } | undefined;
      const echoExt = registrar?.echo?.ext ?? '200';
      // Live progress goes to stderr in both modes: stdout stays the report (text or JSON).
      note(`watching serve (pid ${String(status.pid)}) for ${name ?? 'every phone'}, up to ${o.timeout}; Ctrl-C stops and reports`);
      // Ctrl-C (or a supervisor's SIGTERM) ends the watch early with the report so far, HTML included.
      const interrupted = new AbortController();
      const stopWatching = () => interrupted.abort();
      process.once('SIGINT', stopWatching);
      process.once('SIGTERM', stopWatching);
      let report: VerifyReport;
      try {
        report = await verify({
          store,
          phones: name ? [name] : 'all',
          timeoutMs,
          echoExt,
          signal: interrupted.signal,
          source: (onEvent, onEnd) => followEvents(socket, onEvent, onEnd),
          onStep: (phone, s) => note(`${phone}: ${s.step} ${s.state}: ${s.summary}${s.hint ? `\n  hint: ${s.hint}` : ''}`),
        });
      } finally {
        process.off('SIGINT', stopWatching);
        process.off('SIGTERM', stopWatching);
      }
      if (o.html) {
        writeFileSync(o.html, renderHtml(report));
        note(`wrote ${o.html}`);
      }
      if (o.json) printJson(verifyJson(report));
      else printVerify(report);
      if (!report.ok) process.exitCode = 1;
    });

  program
    .command('probe <target>')
    .description('act as a provisioned phone against a SIP/TLS server: check its certificate, register, call the echo, send a tone over SRTP and check it comes back')
    .requiredOption('--as <name>', 'the phone to act as (its certificate, key and SIP credentials)')
    .option('--call <ext>', 'extension to call, or none', '200')
    .addOption(new Option('--suite <suite>', 'offer only this SRTP suite (default: the vendor\'s order)').choices(SUITE_NAMES))
    .option('--duration <duration>', 'how long to send the tone', '5s')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  sipsec probe sips:pbx.mycompany.com --as telefono1
  sipsec probe sips:127.0.0.1:5061 --as telefono1 --suite AEAD_AES_128_GCM --duration 2s
  sipsec probe sips:kamailio.lan:5061 --as telefono1 --call none      # TLS + registration only`,
    )
    .action(async (target: string, o: { as: string; call: string; suite?: SuiteName; duration: string; json?: boolean }, cmd: Command) => {
      const durationMs = parseDuration(o.duration);
      if (durationMs === undefined || durationMs <= 0 || durationMs > 600_000) throw new SipsecError('BAD_INPUT', `invalid --duration '${o.duration}'`, 'between 1s and 10m, e.g. 5s');
      const store = await openStore(cmd);
      const { probe } = await import('../../verify/probe.js');
      const r = await probe({
        store,
        target,
        as: o.as,
        call: o.call === 'none' ? undefined : o.call,
        suite: o.suite,
        durationMs,
        onStep: o.json ? undefined : (s: ProbeStep) => note(`${s.step}: ${s.result}`),
      });
      if (o.json) printJson(probeJson(r));
      else printProbe(r);
      if (!r.ok) process.exitCode = 1;
    });
}
