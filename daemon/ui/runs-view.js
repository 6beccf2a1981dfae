// SPDX-License-Identifier: Apache-2.0
// The runs view (#/): every run the daemon holds, newest first, live from GET /ui/events
// (one `runs` event a second). Rows are kept per run_id and updated in place, so the
// table does not flicker and a selection survives the refresh.

import { el, setText } from './dom.js';
import { EventStream } from './events.js';
import { count, localTime, percent, rate, timevalSeconds } from './format.js';
import { statusBadge, updateStatusBadge } from './status.js';

export const STATUSES = ['scheduled', 'running', 'paused', 'completed', 'failed', 'cancelled', 'interrupted'];
const COUNT_COLUMNS = ['started', 'finished', 'passed', 'failed', 'aborted', 'halted'];
// Counts whose being non-zero deserves the eye.
const ALARMING = new Set(['failed', 'aborted', 'halted']);

export class RunsView {
  // ctx: {main, server, connection, authLost}; query: URLSearchParams of the hash.
  constructor(ctx, query) {
    this.ctx = ctx;
    this.filters = { status: query.get('status') || '', tag: query.get('tag') || '' };
    this.rows = new Map();  // run_id → {tr, cells}
    this.runs = null;       // the last list received, null before the first
    this.stream = null;
  }

  mount() {
    this.ctx.main.replaceChildren(this.build());
    this.stream = new EventStream(new URL('events', document.baseURI).href, {
      onEvent: (event) => this.onEvent(event),
      onState: (state, detail) => this.ctx.connection(state, detail),
      onAuth: (error) => this.ctx.authLost(error),
    });
    this.stream.start();
  }

  unmount() {
    if (this.stream) this.stream.stop();
    this.stream = null;
  }

  build() {
    this.statusSelect = el('select', { id: 'filter-status', onchange: () => this.filtersChanged() },
      el('option', { value: '' }, 'any status'),
      STATUSES.map((s) => el('option', { value: s }, s)));
    this.statusSelect.value = this.filters.status;
    this.tagInput = el('input', { id: 'filter-tag', type: 'search', placeholder: 'tag',
      spellcheck: 'false', autocomplete: 'off', oninput: () => this.filtersChanged() });
    this.tagInput.value = this.filters.tag;
    this.summary = el('span', { id: 'runs-summary', class: 'muted', 'aria-live': 'polite' });
    this.tbody = el('tbody', { id: 'runs-body' });
    this.empty = el('p', { id: 'runs-empty', class: 'empty', hidden: true });
    const head = el('tr', {},
      el('th', { scope: 'col' }, 'Run'), el('th', { scope: 'col' }, 'Status'),
      el('th', { scope: 'col' }, 'Tags'), el('th', { scope: 'col' }, 'Progress'),
      COUNT_COLUMNS.map((c) => el('th', { scope: 'col', class: 'num' }, c)),
      el('th', { scope: 'col', class: 'num', title: 'instances started per second, last interval' }, 'rate /s'),
      el('th', { scope: 'col' }, 'Started at'));
    return el('section', { class: 'view runs-view', 'aria-labelledby': 'runs-title' },
      el('div', { class: 'view-head' },
        el('h1', { id: 'runs-title' }, 'Runs'), this.summary),
      el('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
        el('label', { for: 'filter-status' }, 'Status'), this.statusSelect,
        el('label', { for: 'filter-tag' }, 'Tag'), this.tagInput),
      el('div', { class: 'table-scroll' },
        el('table', { id: 'runs-table', class: 'data runs' }, el('thead', {}, head), this.tbody)),
      this.empty);
  }

  // Filters live in the hash (#/?status=running&tag=x): a reload or a shared link keeps
  // them. replaceState changes the hash without a hashchange, so the view stays mounted.
  filtersChanged() {
    this.filters = { status: this.statusSelect.value, tag: this.tagInput.value.trim() };
    const query = new URLSearchParams();
    if (this.filters.status) query.set('status', this.filters.status);
    if (this.filters.tag) query.set('tag', this.filters.tag);
    const text = query.toString();
    history.replaceState(null, '', text ? `#/?${text}` : '#/');
    if (this.runs) this.render();
  }

  onEvent(event) {
    if (event.type !== 'runs') return;
    const data = JSON.parse(event.data);
    if (data.server) this.ctx.server.update(data.server);
    this.runs = data.runs || [];
    this.render();
  }

  matches(run) {
    if (this.filters.status && run.status !== this.filters.status) return false;
    const tag = this.filters.tag.toLowerCase();
    return !tag || (run.tags || []).some((t) => String(t).toLowerCase().includes(tag));
  }

  render() {
    const shown = this.runs.filter((run) => this.matches(run)).sort(newestFirst);
    const seen = new Set(shown.map((run) => run.run_id));
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    shown.forEach((run, index) => {
      let row = this.rows.get(run.run_id);
      if (!row) {
        row = makeRow(run);
        this.rows.set(run.run_id, row);
      }
      updateRow(row, run);
      // Move a row only when it is out of place: moving resets a selection in it.
      if (this.tbody.children[index] !== row.tr) this.tbody.insertBefore(row.tr, this.tbody.children[index] || null);
    });
    const total = this.runs.length;
    setText(this.summary, shown.length === total ? `${total} run${total === 1 ? '' : 's'}`
      : `${shown.length} of ${total} runs shown`);
    this.empty.hidden = shown.length > 0;
    setText(this.empty, total === 0
      ? 'The daemon holds no run. Start one with ExecuteTest (e.g. scripts/testrun execute FILE); it appears here within a second.'
      : 'No run matches the filters.');
  }
}

function newestFirst(a, b) {
  const byTime = timevalSeconds(b.time_start) - timevalSeconds(a.time_start);
  if (byTime) return byTime;
  return a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : 0;
}

function makeRow(run) {
  const link = el('a', { href: `#/run/${encodeURIComponent(run.run_id)}`, class: 'run-link' }, run.run_id);
  const cells = {
    status: statusBadge(run.status),
    tags: el('span', { class: 'tags' }),
    bar: el('progress', { max: 100, value: 0 }),
    percent: el('span', { class: 'percent' }),
    counts: {},
    rate: el('td', { class: 'num', 'data-rate': '' }),
    started: el('td', { class: 'time' }),
  };
  const tr = el('tr', { 'data-run-id': run.run_id },
    el('th', { scope: 'row' }, link),
    el('td', {}, cells.status),
    el('td', {}, cells.tags),
    el('td', { class: 'progress-cell' }, cells.bar, cells.percent),
    COUNT_COLUMNS.map((name) => (cells.counts[name] = el('td', { class: 'num', 'data-count': name }))),
    cells.rate, cells.started);
  return { tr, cells, tagsKey: null };
}

function updateRow(row, run) {
  const { cells } = row;
  updateStatusBadge(cells.status, run.status);
  const tags = run.tags || [];
  const tagsKey = JSON.stringify(tags);
  if (row.tagsKey !== tagsKey) {
    cells.tags.replaceChildren(...tags.map((t) => el('span', { class: 'tag' }, t)));
    row.tagsKey = tagsKey;
  }
  const known = Number.isFinite(run.percent_complete);
  cells.bar.hidden = !known;
  if (known) cells.bar.value = run.percent_complete;
  setText(cells.percent, known ? percent(run.percent_complete) : '–');
  for (const [name, cell] of Object.entries(cells.counts)) {
    const value = (run.counts || {})[name] ?? 0;
    setText(cell, count(value));
    cell.dataset.value = String(value);
    cell.classList.toggle('alarm', ALARMING.has(name) && value > 0);
  }
  setText(cells.rate, rate(run.start_rate));
  cells.rate.dataset.rate = String(run.start_rate ?? '');
  setText(cells.started, localTime(run.time_start));
}
