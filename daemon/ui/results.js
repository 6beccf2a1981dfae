// SPDX-License-Identifier: Apache-2.0
// A run's aggregated results: the first-fail and first-abort reasons with their counts,
// and each op's latency over the whole run (QueryTest `latency`, cumulative, as opposed to
// the per-interval charts). Rebuilt only when the figures change.

import { el, setText } from './dom.js';
import { count, latency } from './format.js';

function reasonRows(entries, kind) {
  return entries.map((entry) => el('tr', { 'data-reason': kind },
    el('td', { class: 'num' }, entry.op_idx === -1 ? 'other' : String(entry.op_idx)),
    el('td', { class: 'text' }, String(entry.text)),
    el('td', { class: 'num', 'data-value': entry.count }, count(entry.count))));
}

function reasonTable(id, entries, kind) {
  return el('div', { class: 'table-scroll' }, el('table', { id, class: 'data reasons' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', class: 'num' }, 'Op'),
      el('th', { scope: 'col' }, 'Text'), el('th', { scope: 'col', class: 'num' }, 'Instances'))),
    el('tbody', {}, reasonRows(entries, kind))));
}

export class ReasonsPanel {
  constructor() {
    this.signature = null;
    this.fails = el('div');
    this.aborts = el('div');
    this.element = el('section', { id: 'reasons', class: 'panel', 'aria-labelledby': 'reasons-title' },
      el('h2', { id: 'reasons-title' }, 'Why instances failed'),
      el('p', { class: 'muted' }, 'Each failing instance counts once, under its first failed check (op and text).'),
      el('h3', {}, 'First fails'), this.fails, el('h3', {}, 'First aborts'), this.aborts);
  }

  update(run) {
    const fails = run.first_fails || [];
    const aborts = run.first_aborts || [];
    const signature = JSON.stringify([fails, aborts]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.fails.replaceChildren(fails.length ? reasonTable('first-fails', fails, 'fail')
      : el('p', { class: 'muted' }, 'None.'));
    this.aborts.replaceChildren(aborts.length ? reasonTable('first-aborts', aborts, 'abort')
      : el('p', { class: 'muted' }, 'None.'));
  }
}

const LATENCY_COLUMNS = ['min', 'p50', 'p90', 'p99', 'p999', 'max'];

export class LatencyPanel {
  // opName(opIdx): the op's label.
  constructor(opName) {
    this.opName = opName;
    this.signature = null;
    this.body = el('div');
    this.element = el('section', { id: 'latency-summary', class: 'panel', 'aria-labelledby': 'latency-title' },
      el('h2', { id: 'latency-title' }, 'Latency over the whole run'), this.body);
  }

  update(run) {
    const entries = run.latency || [];
    const signature = JSON.stringify(entries);
    if (signature === this.signature) return;
    this.signature = signature;
    if (!entries.length) {
      this.body.replaceChildren(el('p', { class: 'muted' }, 'No sample yet.'));
      return;
    }
    this.body.replaceChildren(el('div', { class: 'table-scroll' }, el('table', { class: 'data' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Op'),
        el('th', { scope: 'col', class: 'num' }, 'count'),
        LATENCY_COLUMNS.map((c) => el('th', { scope: 'col', class: 'num' }, c)))),
      el('tbody', {}, entries.map((entry) => el('tr', { 'data-op': entry.op_idx },
        el('th', { scope: 'row', 'data-op-title': entry.op_idx }, this.opName(entry.op_idx)),
        el('td', { class: 'num' }, count(entry.count)),
        LATENCY_COLUMNS.map((c) => el('td', { class: 'num' }, latency(entry[c])))))))));
  }

  relabel() {
    for (const cell of this.body.querySelectorAll('[data-op-title]')) {
      setText(cell, this.opName(Number(cell.dataset.opTitle)));
    }
  }
}
