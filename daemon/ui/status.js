// SPDX-License-Identifier: Apache-2.0
// A run's status as a badge: one CSS class per status (status-running, status-paused, …).
// Statuses are whatever the daemon sends; an unknown one still gets a neutral badge.

import { el, setText } from './dom.js';

export function statusClass(status) {
  return `status status-${String(status).toLowerCase().replace(/[^a-z0-9-]/g, '')}`;
}

export function statusBadge(status) {
  const badge = el('span', { class: statusClass(status), 'data-status': status }, status);
  return badge;
}

export function updateStatusBadge(badge, status) {
  setText(badge, status);
  badge.className = statusClass(status);
  badge.dataset.status = status;
}

// Statuses in which a run still starts or runs instances (or will: scheduled).
export function isLive(status) {
  return status === 'running' || status === 'paused' || status === 'scheduled';
}
