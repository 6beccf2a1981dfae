// SPDX-License-Identifier: Apache-2.0
// A run's thresholds as the daemon judges them (QueryTest `thresholds`, docs/api.md#thresholds):
// each rule, its latest value and whether it holds. Hidden for a run without thresholds;
// rebuilt only when something changes.

import { el } from './dom.js';

function value(entry) {
  if (entry.value === null || entry.value === undefined) return 'no value yet';
  return Number(entry.value).toPrecision(4).replace(/\.?0+$/, '');
}

function when(entry) {
  const parts = [];
  if (entry.abort) parts.push(`ends the run when failing (after ${entry.after} s)`);
  parts.push(`checked every ${entry.interval} s`);
  return parts.join('; ');
}

export class ThresholdsPanel {
  constructor() {
    this.signature = null;
    this.body = el('div');
    this.element = el('section', { id: 'thresholds', class: 'panel', hidden: true,
      'aria-labelledby': 'thresholds-title' },
    el('h2', { id: 'thresholds-title' }, 'Thresholds'),
    el('p', { class: 'muted' }, 'Checked by the daemon while the run goes on and at its end: '
      + 'a rule that fails at the end makes the run failed.'),
    this.body);
  }

  update(run) {
    const entries = run.thresholds || [];
    const signature = JSON.stringify(entries.map((e) => [e.text, e.value, e.ok]));
    if (signature === this.signature) return;
    this.signature = signature;
    this.element.hidden = entries.length === 0;
    this.body.replaceChildren(el('div', { class: 'table-scroll' },
      el('table', { id: 'threshold-table', class: 'data' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Rule'),
          el('th', { scope: 'col', class: 'num' }, 'Value'), el('th', { scope: 'col' }, 'Verdict'),
          el('th', { scope: 'col' }, 'When'))),
        el('tbody', {}, entries.map((entry) => el('tr', { 'data-ok': String(entry.ok) },
          el('td', { class: 'text' }, entry.text),
          el('td', { class: 'num' }, value(entry)),
          el('td', { class: entry.ok ? 'verdict ok' : 'verdict alarm' }, entry.ok ? 'holds' : 'fails'),
          el('td', { class: 'muted' }, when(entry))))))));
  }
}
