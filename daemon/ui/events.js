// SPDX-License-Identifier: Apache-2.0
// Server-Sent Events read with fetch(), not EventSource: EventSource cannot send headers,
// so the token would have to go into the URL (and from there into logs and history).
// Here it goes in the Authorization header, and Last-Event-ID is sent by us on reconnect.

import { authHeaders, authErrorFrom, savedToken } from './api.js';

// The text/event-stream format (WHATWG HTML, "Server-sent events"): lines end with CRLF,
// LF or CR; a blank line dispatches the event; `:` lines are comments (keep-alives);
// `data:` lines are joined with "\n"; one space after the colon is dropped.
export class SseParser {
  constructor() {
    this.partial = '';     // an incomplete line carried to the next chunk
    this.afterCR = false;  // the last chunk ended with CR: a leading LF belongs to it
    this.type = '';
    this.data = [];
    this.lastId = '';
  }

  // Feeds decoded text; returns the events completed by it: [{type, id, data}].
  feed(text) {
    const events = [];
    let i = 0;
    if (this.afterCR && text.startsWith('\n')) i = 1;
    this.afterCR = false;
    while (i < text.length) {
      const end = lineEnd(text, i);
      if (end === -1) {
        this.partial += text.slice(i);
        break;
      }
      const line = this.partial + text.slice(i, end);
      this.partial = '';
      if (text[end] === '\r' && end + 1 === text.length) this.afterCR = true;
      i = text[end] === '\r' && text[end + 1] === '\n' ? end + 2 : end + 1;
      this.line(line, events);
    }
    return events;
  }

  line(line, events) {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    // `retry:` and unknown fields are ignored: the reconnect policy is ours (below).
  }

  dispatch(events) {
    if (this.data.length > 0) {
      events.push({ type: this.type || 'message', id: this.lastId, data: this.data.join('\n') });
    }
    this.type = '';
    this.data = [];
  }
}

function lineEnd(text, from) {
  const cr = text.indexOf('\r', from);
  const lf = text.indexOf('\n', from);
  if (cr === -1) return lf;
  if (lf === -1) return cr;
  return Math.min(cr, lf);
}

// Reconnect delays: 1 s, 2 s, 4 s, 8 s, then 10 s while the daemon stays unreachable.
const BACKOFF_SECONDS = [1, 2, 4, 8, 10];
// The daemon sends an event each second; this long without a byte means the connection is
// dead even if TCP has not noticed (a suspended laptop, a dropped NAT mapping).
const SILENCE_MS = 15000;

// A stream that keeps itself connected.
//   handlers.onEvent({type, id, data})   each event
//   handlers.onState(state, detail)      'connecting' | 'live' | 'reconnecting' (detail:
//                                        {seconds, reason}) | 'ended' | 'failed' (detail:
//                                        the message)
//   handlers.onAuth(AuthError)           HTTP 401: the stream stops
//   handlers.onConnect({lastEventId})    each connection made (for the test hook)
// An `end` event stops it for good (no reconnect); so do HTTP 4xx answers.
export class EventStream {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.lastEventId = '';
    this.stopped = false;
    this.controller = null;
    this.wake = null;  // cuts a backoff wait short when stopping
  }

  start() {
    this.run();
  }

  // Leaving the view: abort the fetch and never reconnect.
  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    if (this.wake) this.wake();
  }

  // Breaks the current connection as a network failure would; the reconnect path runs.
  interrupt() {
    if (this.controller) this.controller.abort();
  }

  async run() {
    let failures = 0;
    while (!this.stopped) {
      let reason;
      try {
        const outcome = await this.connectOnce();
        if (outcome.final) return;
        if (outcome.gotEvents) failures = 0;
        reason = 'the daemon closed the stream';
      } catch (error) {
        if (this.stopped) return;
        reason = error.name === 'AbortError' ? 'the connection was interrupted' : error.message;
      }
      const seconds = BACKOFF_SECONDS[Math.min(failures, BACKOFF_SECONDS.length - 1)];
      failures += 1;
      this.handlers.onState('reconnecting', { seconds, reason });
      await this.sleep(seconds * 1000);
    }
  }

  // One connection, read to its end. Resolves to {final} (no reconnect wanted) and
  // {gotEvents}; rejects on network errors and aborts.
  async connectOnce() {
    const controller = new AbortController();
    this.controller = controller;
    this.handlers.onState('connecting');
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
    if (this.handlers.onConnect) this.handlers.onConnect({ lastEventId: this.lastEventId });
    const sentToken = savedToken();
    const response = await fetch(this.url, {
      headers, signal: controller.signal, cache: 'no-store', credentials: 'omit',
    });
    if (response.status === 401) {
      this.stopped = true;
      this.handlers.onAuth(await authErrorFrom(response, sentToken));
      return { final: true };
    }
    if (!response.ok) return this.refused(response);
    return this.read(response, controller);
  }

  // A 4xx is the daemon's considered answer (unknown run): reconnecting would not change
  // it. A 5xx (or a proxy's 502) may be passing: retry.
  async refused(response) {
    let message = `HTTP ${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === 'string') message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    if (response.status >= 500) throw new Error(message);
    this.stopped = true;
    this.handlers.onState('failed', message);
    return { final: true };
  }

  async read(response, controller) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    parser.lastId = this.lastEventId;
    let gotEvents = false;
    let silence = setTimeout(() => controller.abort(), SILENCE_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { final: false, gotEvents };
        clearTimeout(silence);
        silence = setTimeout(() => controller.abort(), SILENCE_MS);
        for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
          this.lastEventId = event.id;
          if (!gotEvents) this.handlers.onState('live');
          gotEvents = true;
          if (event.type === 'end') {
            this.stopped = true;
            controller.abort();
            this.deliver(event);
            this.handlers.onState('ended');
            return { final: true };
          }
          this.deliver(event);
          if (this.stopped) return { final: true };
        }
      }
    } finally {
      clearTimeout(silence);
    }
  }

  // A view that fails on one event must not take the connection down with it (that would
  // reconnect, get the same event and fail again): report it and carry on.
  deliver(event) {
    try {
      this.handlers.onEvent(event);
    } catch (error) {
      console.error(`testrund: handling the ${event.type} event ${event.id} failed:`, error);
    }
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
