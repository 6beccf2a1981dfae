// SPDX-License-Identifier: Apache-2.0
// Talking to the daemon: JSON-RPC 2.0 over HTTP POST, and the bearer token.
//
// The token lives in sessionStorage only (one tab, gone when it closes) and travels in an
// Authorization header, never in a URL or a cookie: the daemon sets no cookie, so another
// site cannot make this browser act on the daemon (no ambient credential to ride on).

const TOKEN_KEY = 'testrund.token';

// The JSON-RPC endpoint is the daemon's root; the page lives under /ui/, so "../" reaches
// it and keeps working behind a reverse proxy that maps the daemon under a prefix.
const RPC_URL = new URL('../', document.baseURI).href;

export function savedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';  // storage disabled: the page still works with no token configured
  }
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing was stored
  }
}

// Request headers with the token, when there is one.
export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = savedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

// HTTP 401: no token was sent and one is needed, or the token sent is unknown.
// `refused` tells the two apart (a token was sent).
export class AuthError extends Error {
  constructor(message, refused) {
    super(message);
    this.name = 'AuthError';
    this.refused = refused;
  }
}

// A JSON-RPC error object, e.g. -32006 "run "x" is paused, not running".
export class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.name = 'RpcError';
    this.code = error.code;
    this.data = error.data;
  }
}

// The message of a 401 body ({"jsonrpc":"2.0","error":{...}}), else a generic one.
export async function authErrorFrom(response, sentToken) {
  let message = 'Authentication required';
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === 'string') message = body.error.message;
  } catch {
    // not JSON: keep the generic text
  }
  return new AuthError(message, Boolean(sentToken));
}

let nextId = 1;

// Calls `method` with `params`; resolves to the result, rejects with RpcError (the daemon
// answered with an error), AuthError (HTTP 401) or Error (network, unexpected HTTP status).
export async function call(method, params = undefined) {
  const request = { jsonrpc: '2.0', id: nextId++, method };
  if (params !== undefined) request.params = params;
  const token = savedToken();
  const response = await fetch(RPC_URL, {
    method: 'POST',
    headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: JSON.stringify(request),
    cache: 'no-store',
    credentials: 'omit',
  });
  if (response.status === 401) throw await authErrorFrom(response, token);
  if (!response.ok) throw new Error(`${method}: HTTP ${response.status} ${response.statusText}`);
  const reply = await response.json();
  if (reply.error) throw new RpcError(reply.error);
  return reply.result;
}

// "PauseTest failed: run "x" is paused, not running (-32006)".
export function describeError(what, error) {
  if (error instanceof RpcError) return `${what} failed: ${error.message} (${error.code})`;
  return `${what} failed: ${error.message}`;
}
