// SPDX-License-Identifier: Apache-2.0
// Turning the daemon's numbers into text: its times are [seconds, microseconds] of the
// daemon's wall clock, durations and latencies are seconds, sizes bytes.

export function timevalSeconds(tv) {
  return Array.isArray(tv) ? tv[0] + tv[1] / 1e6 : NaN;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

// Local date and time, millisecond precision: "2026-11-23 17:11:37.484".
export function localTime(tv) {
  const seconds = timevalSeconds(tv);
  if (!Number.isFinite(seconds)) return '–';
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
         `.${pad(d.getMilliseconds(), 3)}`;
}

// Local clock time only: "17:11:37".
export function localClock(seconds) {
  const d = new Date(seconds * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// "850 ms", "12.5 s", "4 min 05 s", "2 h 03 min", "3 d 04 h".
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.floor(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  if (whole < 86400) return `${Math.floor(whole / 3600)} h ${pad(Math.floor(whole / 60) % 60)} min`;
  return `${Math.floor(whole / 86400)} d ${pad(Math.floor(whole / 3600) % 24)} h`;
}

// A chart axis tick: seconds since the run's start as "m:ss" (or "h:mm:ss").
export function clockOffset(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

// Latencies arrive in seconds and span nanoseconds to minutes.
export function latency(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 1e-3) return `${(seconds * 1e6).toPrecision(3)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toPrecision(3)} ms`;
  return `${seconds.toPrecision(4)} s`;
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// Counts: digits grouped for reading ("1 234 567"), independent of the browser's locale
// so that screenshots and tests read the same everywhere.
export function count(n) {
  if (!Number.isFinite(n)) return '–';
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

export function rate(perSecond) {
  if (!Number.isFinite(perSecond)) return '–';
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

export function percent(value) {
  return Number.isFinite(value) ? `${value.toFixed(1)} %` : '–';
}
