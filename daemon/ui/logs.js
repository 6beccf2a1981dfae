// SPDX-License-Identifier: Apache-2.0
// The first call's logs (QueryTest first_call_summary, and first_fail_summary): the
// check_log (every pass/fail/abort) and the trace_log (comments, debug traces, and every
// protocol message with its bytes in hex). Logs only grow, so they are rebuilt only when
// their length changes, not on every refresh; a message's hex dump is built when opened.

import { el } from './dom.js';
import { duration, localTime } from './format.js';

// Members of a trace entry shown in their own columns (the rest are the message's
// readable fields: method, status, headers, length…).
const TRACE_COLUMNS = new Set(['time', 'step', 'op_idx', 'path', 'text', 'hex', 'protocol']);

// A classic dump: offset, 16 bytes in hex, the printable ASCII. `hex` is the daemon's
// lowercase or uppercase hex string of the bytes.
export function hexDump(hex) {
  const clean = String(hex).replace(/[^0-9a-fA-F]/g, '');
  const lines = [];
  for (let offset = 0; offset * 2 < clean.length; offset += 16) {
    const chunk = clean.slice(offset * 2, offset * 2 + 32);
    const bytes = chunk.match(/../g) || [];
    const hexPart = bytes.map((b, i) => (i === 8 ? ` ${b}` : b)).join(' ');
    const ascii = bytes.map((b) => {
      const code = parseInt(b, 16);
      return code >= 0x20 && code < 0x7f ? String.fromCharCode(code) : '.';
    }).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hexPart.padEnd(48)}  ${ascii}`);
  }
  return lines.join('\n');
}

function checkTable(log) {
  return el('div', { class: 'table-scroll' }, el('table', { class: 'data log check-log' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', class: 'num' }, 'Step'),
      el('th', { scope: 'col', class: 'num' }, 'Op'), el('th', { scope: 'col' }, 'Result'),
      el('th', { scope: 'col' }, 'Text'))),
    el('tbody', {}, log.map((entry) => el('tr', { class: `check-${safe(entry.status)}` },
      el('td', { class: 'num' }, String(entry.step ?? '')),
      el('td', { class: 'num' }, String(entry.op_idx ?? '')),
      el('td', {}, el('span', { class: `result result-${safe(entry.status)}` }, String(entry.status ?? ''))),
      el('td', { class: 'text' }, String(entry.text ?? '')))))));
}

function safe(value) {
  return String(value).toLowerCase().replace(/[^a-z0-9-]/g, '');
}

// A protocol message's readable fields as compact JSON, then its hex dump on demand.
function messageCell(entry) {
  const fields = {};
  for (const [key, value] of Object.entries(entry)) if (!TRACE_COLUMNS.has(key)) fields[key] = value;
  const parts = [];
  if (entry.text !== undefined) parts.push(el('div', { class: 'text' }, String(entry.text)));
  if (Object.keys(fields).length) parts.push(el('pre', { class: 'fields' }, JSON.stringify(fields, null, 1)));
  if (entry.hex !== undefined) {
    const body = el('pre', { class: 'hex' });
    const details = el('details', { class: 'hex-details' },
      el('summary', {}, `${entry.protocol ?? 'message'} bytes (hex)`), body);
    details.addEventListener('toggle', () => {
      if (details.open && !body.textContent) body.textContent = hexDump(entry.hex) || '(empty)';
    });
    parts.push(details);
  }
  return el('td', { class: 'message-cell' }, parts);
}

function traceTable(log) {
  return el('div', { class: 'table-scroll' }, el('table', { class: 'data log trace-log' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Time'),
      el('th', { scope: 'col', class: 'num' }, 'Step'), el('th', { scope: 'col', class: 'num' }, 'Op'),
      el('th', { scope: 'col' }, 'Path'), el('th', { scope: 'col' }, 'Event'))),
    el('tbody', {}, log.map((entry) => el('tr', { 'data-path': entry.path ?? '' },
      el('td', { class: 'time' }, entry.time ? localTime(entry.time) : ''),
      el('td', { class: 'num' }, String(entry.step ?? '')),
      el('td', { class: 'num' }, String(entry.op_idx ?? '')),
      el('td', { class: 'path' }, String(entry.path ?? '')),
      messageCell(entry))))));
}

function summaryLine(summary) {
  const parts = [`instance ${summary.idx}`];
  if (summary.time_start) parts.push(`started ${localTime(summary.time_start)}`);
  parts.push(summary.completed ? `ended after ${duration(summary.duration)}` : 'still in progress');
  return parts.join(' · ');
}

// One instance's summary: a line, its check_log, its trace_log.
class SummaryBlock {
  constructor(id, title) {
    this.id = id;
    this.signature = null;
    this.line = el('p', { class: 'muted' });
    this.checks = el('details', { id: `${id}-check-log`, open: true },
      el('summary', {}, 'check_log'), el('div'));
    this.traces = el('details', { id: `${id}-trace-log`, open: true },
      el('summary', {}, 'trace_log'), el('div'));
    this.element = el('section', { id, class: 'panel' }, el('h2', {}, title), this.line,
      this.checks, this.traces);
  }

  update(summary) {
    this.element.hidden = !summary;
    if (!summary) return;
    const checks = summary.check_log || [];
    const traces = summary.trace_log || [];
    const signature = `${summary.idx}:${summary.completed}:${checks.length}:${traces.length}`;
    if (signature === this.signature) return;
    this.signature = signature;
    this.line.textContent = summaryLine(summary);
    fill(this.checks, checks.length ? checkTable(checks) : el('p', { class: 'muted' }, 'No check yet.'),
      `check_log (${checks.length})`);
    fill(this.traces, traces.length ? traceTable(traces)
      : el('p', { class: 'muted' }, 'No trace entry (comments need trace_level ≥ 1; protocol messages need trace_messages 1).'),
      `trace_log (${traces.length})`);
  }
}

function fill(details, content, title) {
  details.querySelector('summary').textContent = title;
  details.lastElementChild.replaceChildren(content);
}

export class LogsPanel {
  constructor() {
    this.first = new SummaryBlock('first-call', 'First call (instance 0)');
    this.firstFail = new SummaryBlock('first-fail', 'First failing instance');
    this.element = el('div', { class: 'logs' }, this.first.element, this.firstFail.element);
  }

  update(run) {
    // A delta leaves both summaries out while their logs are unchanged (docs/ui.md#live-data).
    if (!('first_call_summary' in run)) return;
    this.first.update(run.first_call_summary);
    this.firstFail.update(run.first_fail_summary);
  }
}
