// SPDX-License-Identifier: Apache-2.0
// The one-run charts: instances started, finished, failed and aborted per second, and each
// op's p50/p90/p99 latency per interval. Chart.js 3 (the global `Chart`, loaded by
// index.html from the daemon) draws them on a linear x axis of seconds since the run's
// start, so no date adapter is needed; the tooltip adds the local clock time.

import { el } from './dom.js';
import { clockOffset, latency as formatLatency, localClock, timevalSeconds } from './format.js';

// The daemon holds the last 900 intervals of a run (15 minutes); so does the page.
export const MAX_POINTS = 900;

// Okabe–Ito colours: told apart with the common colour-vision deficiencies.
const RATE_SERIES = [
  { key: 'started', label: 'started/s', color: '#0072B2' },
  { key: 'finished', label: 'finished/s', color: '#009E73' },
  { key: 'failed', label: 'failed/s', color: '#E69F00' },
  { key: 'aborted', label: 'aborted/s', color: '#D55E00' },
];
const PERCENTILES = [
  { key: 'p50', label: 'p50', color: '#56B4E9' },
  { key: 'p90', label: 'p90', color: '#0072B2' },
  { key: 'p99', label: 'p99', color: '#CC79A7' },
];

export function chartLibraryLoaded() {
  return typeof window.Chart === 'function';
}

// Grid and text colours follow the page's theme (light or dark) through CSS variables.
function themeColors() {
  const style = getComputedStyle(document.documentElement);
  return {
    text: style.getPropertyValue('--muted').trim() || '#555',
    grid: style.getPropertyValue('--grid').trim() || 'rgba(0,0,0,0.1)',
  };
}

function lineChart(canvas, datasets, yTitle, origin) {
  const colors = themeColors();
  return new window.Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,           // a redraw each second: animating would never settle
      responsive: true,
      maintainAspectRatio: false, // the height comes from the stylesheet
      parsing: false,             // data is already {x, y}
      normalized: true,           // x is sorted and unique
      spanGaps: false,            // an interval without samples shows as a gap
      color: colors.text,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      // Dots only while there are few points: a run that lasted one interval is one point,
      // which a line alone would not show.
      elements: {
        point: { radius: (ctx) => (ctx.dataset.data.length <= 20 ? 2.5 : 0), hitRadius: 4 },
        line: { borderWidth: 1.5 },
      },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          title: { display: true, text: 'time since the run started', color: colors.text },
          ticks: { color: colors.text, maxRotation: 0, callback: xTick },
          grid: { color: colors.grid },
        },
        y: {
          beginAtZero: true,
          title: { display: true, text: yTitle, color: colors.text },
          ticks: { color: colors.text },
          grid: { color: colors.grid },
        },
      },
      plugins: {
        legend: { position: 'bottom', labels: { color: colors.text, boxWidth: 12 } },
        tooltip: {
          callbacks: {
            title: (items) => items.length
              ? `${clockOffset(items[0].parsed.x)} (${localClock(origin() + items[0].parsed.x)})` : '',
          },
        },
      },
    },
  });
}

// Seconds since the start as m:ss; with fractions when the whole axis spans seconds
// (a short run), where m:ss would label every tick 0:00. `this` is the scale.
function xTick(value) {
  if (this.max - this.min >= 10) return clockOffset(value);
  return `${Number(value.toFixed(2))} s`;
}

function dataset(label, color) {
  return { label, data: [], borderColor: color, backgroundColor: color };
}

// The charts of one run, in `container`. `opName(opIdx)` labels an op's latency chart.
export class RunCharts {
  constructor(container, opName) {
    this.container = container;
    this.opName = opName;
    this.origin = 0;         // the run's start, epoch seconds
    this.ids = [];           // the ids of the points held, oldest first
    this.xs = [];            // their x values
    this.rates = null;
    this.latency = new Map();  // op_idx → {chart, box}
    this.build();
  }

  build() {
    const canvas = el('canvas', { id: 'chart-rates', role: 'img',
      'aria-label': 'Instances started, finished, failed and aborted per second' });
    this.latencyGrid = el('div', { class: 'chart-grid', id: 'latency-charts' });
    this.latencyEmpty = el('p', { class: 'muted' },
      'No latency yet: it is measured for ops that wait (wait, halt, protocol ops).');
    this.container.append(
      el('div', { class: 'chart-card' }, el('h3', {}, 'Instances per second'),
        el('div', { class: 'chart-box' }, canvas)),
      el('h3', {}, 'Latency per interval'), this.latencyEmpty, this.latencyGrid);
    this.rates = lineChart(canvas, RATE_SERIES.map((s) => dataset(s.label, s.color)),
      'per second', () => this.origin);
  }

  setOrigin(timeStart) {
    this.origin = timevalSeconds(timeStart);
  }

  // A snapshot: everything the daemon holds replaces what was drawn.
  replace(points) {
    this.ids = [];
    this.xs = [];
    for (const dataset of this.rates.data.datasets) dataset.data = [];
    for (const { chart, box } of this.latency.values()) {
      chart.destroy();
      box.remove();
    }
    this.latency.clear();
    this.append(points);
  }

  // A delta: new points after the last one held. Returns the ids that were not the
  // direct successors of the previous ones (a gap) or repeated one (for the caller to
  // report); those are still drawn, in order, except repeats.
  append(points) {
    const anomalies = [];
    for (const point of points) {
      const last = this.ids.length ? this.ids[this.ids.length - 1] : null;
      if (last !== null && point.id <= last) {
        anomalies.push({ kind: 'repeat', id: point.id, after: last });
        continue;
      }
      if (last !== null && point.id !== last + 1) anomalies.push({ kind: 'gap', id: point.id, after: last });
      this.add(point);
    }
    this.trim();
    this.redraw();
    return anomalies;
  }

  add(point) {
    const x = timevalSeconds(point.time) - this.origin;
    const seconds = point.seconds > 0 ? point.seconds : 1;
    this.ids.push(point.id);
    this.xs.push(x);
    RATE_SERIES.forEach((series, i) => {
      this.rates.data.datasets[i].data.push({ x, y: (point[series.key] || 0) / seconds });
    });
    const byOp = new Map((point.latency || []).map((entry) => [entry.op_idx, entry]));
    for (const opIdx of byOp.keys()) if (!this.latency.has(opIdx)) this.addOpChart(opIdx);
    for (const [opIdx, { chart }] of this.latency) {
      const entry = byOp.get(opIdx);
      PERCENTILES.forEach((p, i) => {
        chart.data.datasets[i].data.push({ x, y: entry ? entry[p.key] * 1000 : null });
      });
    }
  }

  // A chart for an op first seen now: earlier points get no value (a gap), so every
  // dataset keeps one entry per point held.
  addOpChart(opIdx) {
    const canvas = el('canvas', { id: `chart-latency-${opIdx}`, 'data-op': opIdx, role: 'img',
      'aria-label': `Latency of op ${opIdx} per interval` });
    const title = el('h4', { 'data-op-title': opIdx }, this.opName(opIdx));
    const box = el('div', { class: 'chart-card', 'data-op': opIdx }, title,
      el('div', { class: 'chart-box' }, canvas));
    const after = [...this.latency.keys()].filter((k) => k > opIdx).sort((a, b) => a - b)[0];
    this.latencyGrid.insertBefore(box, after === undefined ? null : this.latency.get(after).box);
    const chart = lineChart(canvas, PERCENTILES.map((p) => dataset(p.label, p.color)),
      'milliseconds', () => this.origin);
    chart.options.plugins.tooltip.callbacks.label =
      (item) => `${item.dataset.label}: ${formatLatency(item.parsed.y / 1000)}`;
    for (const dataset of chart.data.datasets) dataset.data = this.xs.map((x) => ({ x, y: null }));
    this.latency.set(opIdx, { chart, box, title });
    this.latencyEmpty.hidden = true;
  }

  // Op names become known late (a halted op shows its type): relabel.
  relabel() {
    for (const [opIdx, { title }] of this.latency) {
      const name = this.opName(opIdx);
      if (title.textContent !== name) title.textContent = name;
    }
  }

  trim() {
    const excess = this.ids.length - MAX_POINTS;
    if (excess <= 0) return;
    this.ids.splice(0, excess);
    this.xs.splice(0, excess);
    for (const chart of this.charts()) {
      for (const dataset of chart.data.datasets) dataset.data.splice(0, excess);
    }
  }

  redraw() {
    for (const chart of this.charts()) chart.update('none');
    this.container.dataset.points = String(this.ids.length);
  }

  charts() {
    return [this.rates, ...[...this.latency.values()].map((entry) => entry.chart)];
  }

  destroy() {
    for (const chart of this.charts()) chart.destroy();
    this.latency.clear();
  }
}
