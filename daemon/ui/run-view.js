// SPDX-License-Identifier: Apache-2.0
// The one-run view (#/run/<id>), live from GET /ui/events?run_id=<id>: a `snapshot` first
// (the QueryTest object and every point held), then a `delta` each second (the object
// again and the new points), and `end` when the daemon discards the run.

import { el, setText } from './dom.js';
import { EventStream } from './events.js';
import { count, duration, localTime, percent, timevalSeconds } from './format.js';
import { RunActions } from './actions.js';
import { chartLibraryLoaded, MAX_POINTS, RunCharts } from './charts.js';
import { HaltedPanel } from './halted.js';
import { LogsPanel } from './logs.js';
import { LatencyPanel, ReasonsPanel } from './results.js';
import { statusBadge, updateStatusBadge } from './status.js';
import { ThresholdsPanel } from './thresholds.js';

const COUNTS = [
  ['started', 'instances started'], ['finished', 'instances ended, whatever the outcome'],
  ['passed', 'ran to the end with no failed check'], ['failed', 'ended with a failed check'],
  ['aborted', 'ended by an abort'], ['cancelled', 'ended by CancelTest'],
  ['late', 'starts that were due while the backlog was full'],
  ['halted', 'halted now, waiting for an operator'], ['running', 'in progress now'],
];
const ALARMING = new Set(['failed', 'aborted', 'late']);

export class RunView {
  // ctx: {main, server, connection, authLost, role, debug}
  constructor(ctx, runId) {
    this.ctx = ctx;
    this.runId = runId;
    this.operator = ctx.role === 'operator';
    this.opTypes = new Map();  // op_idx → its type (and label), from the stream's first event
    this.stream = null;
    this.charts = null;
    this.ended = false;
  }

  mount() {
    this.ctx.main.replaceChildren(this.build());
    if (chartLibraryLoaded()) {
      this.charts = new RunCharts(this.chartsBox, (i) => this.opName(i));
    } else {
      this.chartsBox.append(el('p', { class: 'message error' },
        'The chart library (vendor/chart.min.js) did not load: the charts are not available.'));
    }
    this.resetDebug();
    const url = new URL('events', document.baseURI);
    url.searchParams.set('run_id', this.runId);
    this.stream = new EventStream(url.href, {
      onEvent: (event) => this.onEvent(event),
      onState: (state, detail) => this.onState(state, detail),
      onAuth: (error) => this.ctx.authLost(error),
      onConnect: (info) => this.ctx.debug.connections.push({ ...info, first: null }),
    });
    this.stream.start();
    this.ctx.server.startPolling((error) => {
      if (error.name === 'AuthError') this.ctx.authLost(error);
    });
  }

  unmount() {
    if (this.stream) this.stream.stop();
    this.ctx.server.stopPolling();
    if (this.charts) this.charts.destroy();
    this.ctx.debug.interrupt = () => {};
  }

  // window.testrundDebug: what a test (or a curious operator) can check from outside —
  // the ids of the points drawn, and each connection's Last-Event-ID and first event.
  resetDebug() {
    const debug = this.ctx.debug;
    debug.runId = this.runId;
    debug.pointIds = [];
    debug.connections = [];
    debug.anomalies = [];
    debug.interrupt = () => this.stream && this.stream.interrupt();
  }

  build() {
    this.statusBadge = statusBadge('');
    this.statusBadge.id = 'run-status';
    this.statusBadge.hidden = true;  // until the daemon says
    this.tags = el('span', { id: 'run-tags', class: 'tags' });
    this.reason = el('p', { id: 'status-reason', class: 'reason', hidden: true });
    this.endedBanner = el('p', { id: 'run-ended', class: 'banner', role: 'status', hidden: true },
      'This run has ended and is no longer held by the daemon. What is shown is its last state.');
    this.error = el('p', { id: 'run-error', class: 'message error', role: 'alert', hidden: true });
    this.progress = el('progress', { id: 'run-progress', max: 100, value: 0 });
    this.percent = el('span', { id: 'run-percent' });
    this.facts = {
      started: el('dd', { id: 'run-started' }), finished: el('dd', { id: 'run-finished' }),
      elapsed: el('dd', { id: 'run-elapsed' }),
      paused: el('dd', { id: 'run-paused', 'data-fact': 'paused' }),
      data: el('dd', { id: 'run-data', 'data-fact': 'data' }),
    };
    this.countTiles = {};
    this.chartsBox = el('div', { id: 'charts', class: 'charts', 'data-points': '0' });
    this.actions = this.operator ? new RunActions(this.runId, {
      onResult: (method, result) => this.actionDone(method, result),
      onAuth: (error) => this.ctx.authLost(error),
    }) : null;
    if (this.actions) this.actions.element.hidden = true;
    this.halted = new HaltedPanel(this.runId, {
      canResume: this.operator, onResumed: () => {}, onAuth: (error) => this.ctx.authLost(error),
    });
    this.thresholds = new ThresholdsPanel();
    this.reasons = new ReasonsPanel();
    this.latency = new LatencyPanel((i) => this.opName(i));
    this.logs = new LogsPanel();
    this.globals = el('pre', { id: 'globals', class: 'json' });
    this.body = el('div', { class: 'run-body', hidden: true },
      el('div', { class: 'run-summary' },
        el('div', { class: 'progress-line' }, this.progress, this.percent),
        el('dl', { class: 'facts' },
          el('dt', {}, 'started at'), this.facts.started,
          el('dt', {}, 'finished at'), this.facts.finished,
          el('dt', { title: 'time since the start, pauses not counted' }, 'run time'), this.facts.elapsed,
          el('dt', { 'data-fact': 'paused' }, 'paused for'), this.facts.paused,
          el('dt', { 'data-fact': 'data', title: 'the rows the instances read (ExecuteTest data)' },
            'data'), this.facts.data),
        el('div', { id: 'counts', class: 'counts' }, COUNTS.map(([name, help]) => {
          const value = el('span', { class: 'count-value' }, '–');
          this.countTiles[name] = value;
          return el('div', { class: 'count-tile', 'data-count': name, title: help },
            el('span', { class: 'count-label' }, name), value);
        }))),
      el('section', { class: 'panel', 'aria-labelledby': 'charts-title' },
        el('h2', { id: 'charts-title' }, 'Live'), this.chartsBox),
      this.thresholds.element, this.halted.element, this.reasons.element, this.latency.element, this.logs.element,
      el('section', { class: 'panel' }, el('details', {}, el('summary', {}, 'globals (g)'), this.globals)));
    return el('section', { class: 'view run-view', 'aria-labelledby': 'run-title' },
      el('nav', { class: 'crumbs' }, el('a', { href: '#/', id: 'back' }, '← All runs')),
      el('div', { class: 'view-head' },
        el('h1', { id: 'run-title' }, this.runId), this.statusBadge, this.tags),
      this.error, this.endedBanner, this.reason,
      this.actions ? this.actions.element : null,
      this.body);
  }

  onState(state, detail) {
    if (state === 'failed') {
      this.error.hidden = false;
      setText(this.error, `This run cannot be shown: ${detail}`);
    }
    this.ctx.connection(state, detail);
  }

  onEvent(event) {
    const last = this.ctx.debug.connections[this.ctx.debug.connections.length - 1];
    if (last && last.first === null) last.first = { type: event.type, id: event.id };
    if (event.type === 'end') {
      this.end();
      return;
    }
    if (event.type !== 'snapshot' && event.type !== 'delta') return;
    const data = JSON.parse(event.data);
    if (data.ops) this.setOps(data.ops);
    if (data.run) this.update(data.run);
    if (event.type === 'snapshot') this.replacePoints(data.points || []);
    else this.appendPoints(data.points || []);
  }

  replacePoints(points) {
    this.ctx.debug.pointIds = points.map((p) => p.id);
    if (!this.charts) return;
    this.charts.setOrigin(this.runStart);
    this.charts.replace(points);
  }

  appendPoints(points) {
    const ids = this.ctx.debug.pointIds;
    ids.push(...points.map((p) => p.id));
    if (ids.length > MAX_POINTS) ids.splice(0, ids.length - MAX_POINTS);
    if (!this.charts) return;
    for (const anomaly of this.charts.append(points)) {
      // The daemon promises consecutive ids: say so loudly if it breaks that promise.
      this.ctx.debug.anomalies.push(anomaly);
      console.warn(`testrund: point ${anomaly.id} after ${anomaly.after} (${anomaly.kind})`);
    }
  }

  // The run as QueryTest shows it.
  update(run) {
    this.run = run;
    this.runStart = run.time_start;
    this.body.hidden = false;
    this.ctx.server.observeClock(run.time_now);
    updateStatusBadge(this.statusBadge, run.status);
    this.statusBadge.hidden = false;
    this.reason.hidden = !run.status_reason;
    setText(this.reason, run.status_reason || '');
    const tagsKey = JSON.stringify(run.tags || []);
    if (this.tags.dataset.key !== tagsKey) {
      this.tags.replaceChildren(...(run.tags || []).map((t) => el('span', { class: 'tag' }, t)));
      this.tags.dataset.key = tagsKey;
    }
    this.updateSummary(run);
    if (this.actions && !this.ended) this.actions.setStatus(run.status);
    this.thresholds.update(run);
    this.halted.update(run);
    this.reasons.update(run);
    this.latency.update(run);
    this.logs.update(run);
    const globals = JSON.stringify(run.globals ?? {}, null, 2);
    if (this.globals.textContent !== globals) this.globals.textContent = globals;
  }

  updateSummary(run) {
    const known = Number.isFinite(run.percent_complete);
    this.progress.hidden = !known;
    if (known) this.progress.value = run.percent_complete;
    setText(this.percent, known ? `${percent(run.percent_complete)} of the planned instances started`
      : 'no planned end (runs until cancelled)');
    setText(this.facts.started, localTime(run.time_start));
    setText(this.facts.finished, run.time_finish ? localTime(run.time_finish) : '–');
    // QueryTest's duration (start to finish, only once completed) counts pauses: left out here.
    const wall = Number.isFinite(run.duration) ? run.duration
      : timevalSeconds(run.time_now) - timevalSeconds(run.time_start);
    const elapsed = wall - (run.paused_seconds || 0);
    setText(this.facts.elapsed, duration(elapsed));
    // Paused time does not count toward the run's duration; say how much there was.
    const paused = run.paused_seconds > 0;
    for (const node of this.body.querySelectorAll('[data-fact="paused"]')) node.hidden = !paused;
    if (paused) setText(this.facts.paused, duration(run.paused_seconds));
    const data = run.data;
    for (const node of this.body.querySelectorAll('[data-fact="data"]')) node.hidden = !data;
    if (data) {
      setText(this.facts.data, `${count(data.rows)} rows of ${data.columns.join(', ')}`
        + ` (${data.source}, ${data.mode})`);
    }
    for (const [name, node] of Object.entries(this.countTiles)) {
      const value = (run.counts || {})[name] ?? 0;
      setText(node, count(value));
      node.parentElement.dataset.value = String(value);
      node.parentElement.classList.toggle('alarm', ALARMING.has(name) && value > 0);
    }
  }

  // The run's ops, by index: [{type, label?}] (the first event of each connection).
  setOps(ops) {
    this.opTypes = new Map(ops.map((op, idx) =>
      [idx, op.label ? `${op.type} "${op.label}"` : String(op.type)]));
    if (this.charts) this.charts.relabel();
    this.latency.relabel();
  }

  opName(opIdx) {
    const type = this.opTypes.get(opIdx);
    return type ? `op ${opIdx} (${type})` : `op ${opIdx}`;
  }

  // An action succeeded: show its outcome now rather than at the next event.
  actionDone(method, result) {
    if (method === 'CancelTest') {
      this.update(result);  // the final state (the daemon discards the run next)
    } else if (result && result.status) {
      updateStatusBadge(this.statusBadge, result.status);
      this.actions.setStatus(result.status);
    }
  }

  end() {
    this.ended = true;
    this.endedBanner.hidden = false;
    if (this.actions) this.actions.setStatus('ended');
  }
}
