// SPDX-License-Identifier: Apache-2.0
// The operator page: signs in (GetServerInfo, with the token of this tab if any), then
// routes on the URL hash — #/ the runs, #/run/<id> one run — and keeps the title bar's
// connection state, role and server figures current.

import { call, forgetToken, saveToken, savedToken } from './api.js';
import { el, setText } from './dom.js';
import { RunView } from './run-view.js';
import { RunsView } from './runs-view.js';
import { ServerPanel } from './server.js';

const $ = (id) => document.getElementById(id);

const state = {
  role: null,
  view: null,
  viewKey: null,
  server: new ServerPanel($('server')),
  // For tests and scripted checks; see docs/ui.md.
  debug: { pointIds: [], connections: [], anomalies: [], interrupt: () => {} },
};
window.testrundDebug = state.debug;

// ---- connection indicator ----

const CONNECTION_TEXT = {
  idle: '',
  connecting: 'connecting…',
  live: 'live',
  ended: 'stream ended',
  failed: 'not connected',
};

function showConnection(stateName, detail) {
  const node = $('connection');
  // "connecting" right after "reconnecting" keeps the reconnecting text: it is the same
  // outage until data flows again.
  if (stateName === 'connecting' && node.dataset.state === 'reconnecting') return;
  node.dataset.state = stateName;
  if (stateName === 'reconnecting') {
    setText(node, `reconnecting… (retry in ${detail.seconds} s)`);
    node.title = `The live data stopped: ${detail.reason}. Reconnecting.`;
  } else {
    setText(node, CONNECTION_TEXT[stateName] ?? stateName);
    node.title = stateName === 'failed' ? String(detail) : '';
  }
}

// ---- sign-in ----

function showSignin(message) {
  unmountView();
  state.role = null;  // no view may mount behind the form (e.g. on a hashchange)
  $('main').hidden = true;
  $('server').hidden = true;
  $('session').hidden = true;
  showConnection('idle');
  const text = $('signin-message');
  text.hidden = !message;
  setText(text, message || '');
  $('signin').hidden = false;
  const input = $('token-input');
  input.value = '';
  input.focus();
}

function authMessage(error) {
  return error.refused ? `The token was refused: ${error.message}` : '';
}

// A call or stream got 401 after sign-in (the daemon restarted with other tokens, or the
// token was removed from its configuration).
function authLost(error) {
  forgetToken();
  showSignin(error.refused ? authMessage(error) : `The daemon now needs a token: ${error.message}`);
}

function showLoading(text) {
  $('main').replaceChildren(el('p', { id: 'loading', class: 'notice' }, text));
}

async function signIn() {
  if (!state.view) showLoading('Connecting to the daemon…');
  let info;
  try {
    info = await call('GetServerInfo');
  } catch (error) {
    if (error.name === 'AuthError') {
      if (error.refused) forgetToken();
      showSignin(authMessage(error));
      return;
    }
    showLoading(`Cannot reach the daemon (${error.message}). Retrying in 5 s…`);
    setTimeout(signIn, 5000);
    return;
  }
  state.role = info.role === 'observer' ? 'observer' : 'operator';
  $('signin').hidden = true;
  $('main').hidden = false;
  $('session').hidden = false;
  setText($('role'), state.role);
  $('role').dataset.role = state.role;
  document.body.dataset.role = state.role;
  $('forget-token').hidden = !savedToken();
  state.server.updateFromInfo(info);
  route();
}

function onSigninSubmit(event) {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  saveToken(token);
  $('signin').hidden = true;
  $('main').hidden = false;
  signIn();
}

function onForgetToken(event) {
  event.preventDefault();
  forgetToken();
  state.role = null;
  // Start over: with no token, the daemon says whether one is needed.
  unmountView();
  signIn();
}

// ---- routing ----

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryText] = hash.split('?', 2);
  const query = new URLSearchParams(queryText || '');
  const match = /^\/run\/(.+)$/.exec(path);
  if (match) {
    let runId;
    try {
      runId = decodeURIComponent(match[1]);
    } catch {
      runId = match[1];
    }
    return { key: `run:${runId}`, make: (ctx) => new RunView(ctx, runId) };
  }
  return { key: 'runs', make: (ctx) => new RunsView(ctx, query) };
}

function unmountView() {
  if (state.view) state.view.unmount();
  state.view = null;
  state.viewKey = null;
}

function route() {
  if (!state.role) return;  // not signed in yet
  const { key, make } = parseHash();
  if (key === state.viewKey) return;  // e.g. the runs filters changed the query only
  unmountView();
  state.server.stopPolling();
  showConnection('idle');
  $('nav-runs').classList.toggle('current', key === 'runs');
  state.viewKey = key;
  state.view = make({
    main: $('main'),
    server: state.server,
    role: state.role,
    debug: state.debug,
    connection: showConnection,
    authLost,
  });
  state.view.mount();
  document.title = key === 'runs' ? 'Runs · testrund' : `${key.slice(4)} · testrund`;
  window.scrollTo(0, 0);
}

$('signin-form').addEventListener('submit', onSigninSubmit);
$('forget-token').addEventListener('click', onForgetToken);
window.addEventListener('hashchange', route);
// Leaving the page must close its live stream at once: a page kept in the back/forward
// cache would otherwise hold the connection open unread (browsers allow six per host, so
// a few of those starve the page's own calls). Coming back from that cache reconnects.
window.addEventListener('pagehide', unmountView);
window.addEventListener('pageshow', (event) => {
  if (event.persisted) route();
});
signIn();
