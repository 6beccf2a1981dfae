// SPDX-License-Identifier: Apache-2.0
// The server strip under the title bar: version, uptime, memory, runs, instances live and
// connections. The runs stream carries these each second; elsewhere GetServerInfo is
// polled every few seconds (one small call), which is all a glance at the server needs.

import { call } from './api.js';
import { setText } from './dom.js';
import { bytes, count, duration, timevalSeconds } from './format.js';

const POLL_MS = 5000;
const TICK_MS = 1000;

export class ServerPanel {
  constructor(root) {
    this.root = root;
    this.poller = null;
    this.ticker = null;
    this.info = null;  // the last GetServerInfo result
    // The daemon's clock may differ from the browser's: uptime from GetServerInfo's
    // time_start is measured against the daemon's clock, estimated from its last time_now.
    this.clockOffset = 0;
  }

  field(name) {
    return this.root.querySelector(`[data-server="${name}"]`);
  }

  // `server` as the runs stream sends it.
  update(server) {
    this.root.hidden = false;
    setText(this.field('version'), server.version ?? '–');
    setText(this.field('uptime'), duration(server.uptime_seconds));
    setText(this.field('memory'), bytes(server.memory_bytes));
    setText(this.field('runs'), count(server.runs));
    setText(this.field('instances_live'), count(server.instances_live));
    const connections = this.root.querySelector('[data-server-item="connections"]');
    connections.hidden = !Number.isFinite(server.connections);
    if (Number.isFinite(server.connections)) setText(this.field('connections'), count(server.connections));
  }

  // The daemon's wall clock at `timeNow` ([sec, usec], e.g. QueryTest's time_now) is now.
  observeClock(timeNow) {
    const seconds = timevalSeconds(timeNow);
    if (Number.isFinite(seconds)) this.clockOffset = seconds - Date.now() / 1000;
  }

  // GetServerInfo's result. It has the daemon's start time rather than its uptime, so the
  // uptime can go on counting between two polls.
  updateFromInfo(info) {
    this.info = info;
    this.update({ ...info, uptime_seconds: this.uptime() });
  }

  uptime() {
    const now = Date.now() / 1000 + this.clockOffset;
    return now - timevalSeconds(this.info.time_start);
  }

  // Polls GetServerInfo until stopPolling(); `onError` gets failures (an AuthError ends
  // the session).
  startPolling(onError) {
    this.stopPolling();
    const poll = async () => {
      try {
        this.updateFromInfo(await call('GetServerInfo'));
      } catch (error) {
        onError(error);
      }
    };
    poll();
    this.poller = setInterval(poll, POLL_MS);
    this.ticker = setInterval(() => {
      if (this.info) setText(this.field('uptime'), duration(this.uptime()));
    }, TICK_MS);
  }

  stopPolling() {
    if (this.poller !== null) clearInterval(this.poller);
    if (this.ticker !== null) clearInterval(this.ticker);
    this.poller = null;
    this.ticker = null;
  }
}
