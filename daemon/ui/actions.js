// SPDX-License-Identifier: Apache-2.0
// Pause, Unpause and Cancel for one run (operators only: an observer's page never creates
// this bar). Which buttons show follows the run's status: Pause while running, Unpause
// while paused, Cancel while either; none once the run is over. Cancel asks first, in the
// page rather than with confirm(), which would stop the page (and its live data) while open.

import { call, describeError } from './api.js';
import { el, setText } from './dom.js';
import { isLive } from './status.js';

export class RunActions {
  // onResult(method, result): the call succeeded (e.g. to show the new status at once).
  // onAuth(AuthError): the token stopped working.
  constructor(runId, { onResult, onAuth }) {
    this.runId = runId;
    this.onResult = onResult;
    this.onAuth = onAuth;
    this.status = null;
    this.busy = false;
    this.element = this.build();
  }

  build() {
    this.pause = el('button', { id: 'pause', type: 'button', 'data-action': 'pause',
      onclick: () => this.run('PauseTest', 'Paused: no new instance starts; those in flight carry on.') }, 'Pause');
    this.unpause = el('button', { id: 'unpause', type: 'button', 'data-action': 'unpause',
      onclick: () => this.run('UnpauseTest', 'Unpaused: instances start again.') }, 'Unpause');
    this.cancel = el('button', { id: 'cancel', type: 'button', class: 'danger', 'data-action': 'cancel',
      onclick: () => this.askCancel(true) }, 'Cancel…');
    this.confirmYes = el('button', { id: 'cancel-confirm', type: 'button', class: 'danger',
      'data-action': 'cancel-confirm',
      onclick: () => this.run('CancelTest', 'Cancelled: unfinished instances ended as cancelled.') }, 'Cancel the run');
    this.confirmNo = el('button', { id: 'cancel-keep', type: 'button', 'data-action': 'cancel-keep',
      onclick: () => this.askCancel(false) }, 'Keep it running');
    this.confirm = el('div', { id: 'cancel-confirmation', class: 'confirm', role: 'alertdialog',
      'aria-labelledby': 'cancel-question', hidden: true },
      el('p', { id: 'cancel-question' }, `Cancel run ${this.runId}? Every unfinished instance (running, waiting, halted) ends as cancelled, and the daemon then discards the run: its results stay on this page only.`),
      this.confirmYes, this.confirmNo);
    this.message = el('p', { id: 'action-message', class: 'message', role: 'status', hidden: true });
    return el('div', { id: 'actions', class: 'actions' },
      el('div', { class: 'buttons' }, this.pause, this.unpause, this.cancel), this.confirm, this.message);
  }

  // The run's status changed (or was refreshed).
  setStatus(status) {
    this.status = status;
    this.pause.hidden = status !== 'running';
    this.unpause.hidden = status !== 'paused';
    this.cancel.hidden = !isLive(status);
    if (!isLive(status)) this.confirm.hidden = true;
    this.element.hidden = !isLive(status) && this.message.hidden;
  }

  askCancel(open) {
    this.confirm.hidden = !open;
    if (open) this.confirmNo.focus();
    else this.cancel.focus();
  }

  async run(method, successText) {
    if (this.busy) return;
    this.setBusy(true);
    try {
      const result = await call(method, { run_id: this.runId });
      this.confirm.hidden = true;
      this.say(successText, false);
      this.onResult(method, result);
    } catch (error) {
      if (error.name === 'AuthError') this.onAuth(error);
      else this.say(describeError(method, error), true);
    } finally {
      this.setBusy(false);
    }
  }

  setBusy(busy) {
    this.busy = busy;
    for (const button of [this.pause, this.unpause, this.cancel, this.confirmYes, this.confirmNo]) {
      button.disabled = busy;
    }
  }

  say(text, isError) {
    this.message.hidden = false;
    this.message.classList.toggle('error', isError);
    this.message.classList.toggle('ok', !isError);
    setText(this.message, text);
    this.element.hidden = false;
  }
}
