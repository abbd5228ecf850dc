import type { PhoneVerdict, StepState } from './evaluate.js';
import { STEP_NAMES } from './evaluate.js';
import type { ServeEvent } from '../events/index.js';

/**
 * The verify report as one self-contained HTML page (inline CSS, no
 * scripts, no external assets): a table of phones by step, the hints, and a
 * timeline of each phone's events.
 */
const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const CLASS: Record<StepState, string> = { PASS: 'pass', FAIL: 'fail', 'NOT SEEN': 'unseen' };

function eventLine(e: ServeEvent): string {
  const skip = new Set(['time', 'event', 'phone', 'remote']);
  const fields = Object.entries(e)
    .filter(([k, v]) => !skip.has(k) && v !== undefined && v !== null && typeof v !== 'object')
    .slice(0, 10)
    .map(([k, v]) => `${esc(k)}=${esc(v)}`)
    .join(' ');
  return `<tr><td class="t">${esc(e.time.slice(11, 23))}</td><td><code>${esc(e.event)}</code></td><td>${esc(e.remote ?? '')}</td><td class="f">${fields}</td></tr>`;
}

export function renderHtml(report: { generated: string; home: string; phones: PhoneVerdict[] }): string {
  const head = STEP_NAMES.map((s) => `<th>${esc(s)}</th>`).join('');
  const rows = report.phones
    .map(
      (p) =>
        `<tr><th class="ph"><a href="#${esc(p.phone)}">${esc(p.phone)}</a><div class="v">${esc(p.vendor)}</div></th>${p.steps
          .map((s) => `<td class="${CLASS[s.state]}"><b>${esc(s.state)}</b><div>${esc(s.summary)}</div>${s.hint ? `<div class="hint">${esc(s.hint)}</div>` : ''}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  const timelines = report.phones
    .map((p) => `<h2 id="${esc(p.phone)}">${esc(p.phone)} <span class="${p.ok ? 'pass' : 'fail'} badge">${p.ok ? 'works' : 'needs attention'}</span></h2>\n<table class="tl"><tr><th>time</th><th>event</th><th>remote</th><th>details</th></tr>${p.events.map(eventLine).join('\n') || '<tr><td colspan="4">no events</td></tr>'}</table>`)
    .join('\n');
  const passed = report.phones.filter((p) => p.ok).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sipsec verify report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.sub{color:#57606a;margin-bottom:18px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:8px;vertical-align:top;text-align:left}
.main th{background:#f6f8fa}.ph{width:12%}.v{font-weight:normal;color:#57606a;font-size:12px}
td.pass{background:#dafbe1}td.fail{background:#ffebe9}td.unseen{background:#f6f8fa;color:#57606a}
.hint{margin-top:6px;padding:6px;background:#fff8c5;border-left:3px solid #d4a72c;font-size:13px}
.badge{font-size:12px;padding:2px 8px;border-radius:10px}.badge.pass{background:#1a7f37;color:#fff}.badge.fail{background:#cf222e;color:#fff}
.tl td,.tl th{font-size:12px;padding:4px 6px}.tl .t{white-space:nowrap;font-family:ui-monospace,monospace}.tl .f{font-family:ui-monospace,monospace;word-break:break-all}
code{font-family:ui-monospace,monospace}
</style></head>
<body>
<h1>sipsec verify</h1>
<div class="sub">${esc(report.generated)} · CA home ${esc(report.home)} · ${passed} of ${report.phones.length} phone(s) work end to end</div>
<table class="main"><tr><th>phone</th>${head}</tr>
${rows}
</table>
${timelines}
</body></html>
`;
}
