// SPDX-License-Identifier: Apache-2.0
// The halted instances of a run (QueryTest `halted`), each with a Resume button for
// operators. Resume opens a form under the instance's row; its vars are a JSON object
// merged into the instance's `v` (ResumeInstance's `vars`), checked here before sending.

import { call, describeError } from './api.js';
import { el, setText } from './dom.js';
import { duration, localTime } from './format.js';

// A halt op's timeout: `arguments.seconds` as a number or numeric string, else 60 (the
// default). A `{...}` expression is only known to the daemon: null.
function haltSeconds(operation) {
  const seconds = operation && operation.arguments ? operation.arguments.seconds : undefined;
  if (seconds === undefined) return 60;
  const value = Number(seconds);
  return typeof seconds !== 'boolean' && Number.isFinite(value) ? value : null;
}

// Parses the vars text: empty means no vars; otherwise it must be a JSON object.
export function parseVars(text) {
  if (text.trim() === '') return { vars: undefined };
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `The vars are not valid JSON: ${error.message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'The vars must be a JSON object, e.g. {"code": 42}.' };
  }
  return { vars: value };
}

export class HaltedPanel {
  // canResume: the caller is an operator. onResumed(instanceId): a resume succeeded.
  constructor(runId, { canResume, onResumed, onAuth }) {
    this.runId = runId;
    this.canResume = canResume;
    this.onResumed = onResumed;
    this.onAuth = onAuth;
    this.rows = new Map();       // instance_id → {tr, cells}
    this.form = null;            // {instanceId, tr, textarea, error, submit}
    this.element = this.build();
  }

  build() {
    this.title = el('h2', { id: 'halted-title' }, 'Halted instances');
    this.note = el('p', { id: 'halted-note', class: 'muted' });
    this.tbody = el('tbody', { id: 'halted-body' });
    this.message = el('p', { id: 'resume-message', class: 'message', role: 'status', hidden: true });
    this.table = el('div', { class: 'table-scroll' }, el('table', { id: 'halted-table', class: 'data' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col', class: 'num' }, 'Instance'), el('th', { scope: 'col', class: 'num' }, 'Op'),
        el('th', { scope: 'col' }, 'Label'), el('th', { scope: 'col' }, 'Comment'),
        el('th', { scope: 'col', class: 'num' }, 'Timeout'),
        el('th', { scope: 'col' }, 'Halted at'),
        el('th', { scope: 'col', class: 'num', title: 'until the halt times out and the instance aborts (as of the last update)' }, 'Time left'),
        this.canResume ? el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Action')) : null)),
      this.tbody));
    return el('section', { id: 'halted', class: 'panel', 'aria-labelledby': 'halted-title' },
      this.title, this.note, this.message, this.table);
  }

  // `run`: the QueryTest object.
  update(run) {
    const halted = run.halted || [];
    const total = run.halted_total ?? halted.length;
    setText(this.title, `Halted instances (${total})`);
    this.note.hidden = false;
    setText(this.note, halted.length === 0 ? 'No instance is halted.'
      : halted.length < total ? `The daemon lists the first ${halted.length} of ${total}.` : '');
    this.note.hidden = this.note.textContent === '';
    this.table.hidden = halted.length === 0;
    const seen = new Set(halted.map((entry) => entry.instance_id));
    for (const [id, row] of this.rows) {
      if (seen.has(id)) continue;
      row.tr.remove();
      this.rows.delete(id);
      if (this.form && this.form.instanceId === id) {
        this.closeForm();
        this.say(`Instance ${id} is no longer halted (resumed, timed out or cancelled).`, false);
      }
    }
    // The rows in the daemon's order (lowest id first), the open form under its instance.
    const wanted = [];
    for (const entry of halted) {
      const id = entry.instance_id;
      let row = this.rows.get(id);
      if (!row) {
        row = this.makeRow(id);
        this.rows.set(id, row);
      }
      this.updateRow(row, entry);
      wanted.push(row.tr);
      if (this.form && this.form.instanceId === id) wanted.push(this.form.tr);
    }
    // Move only what is out of place: moving the form's row would drop the textarea's focus.
    wanted.forEach((tr, i) => {
      if (this.tbody.children[i] !== tr) this.tbody.insertBefore(tr, this.tbody.children[i] || null);
    });
  }

  makeRow(id) {
    const cells = {
      op: el('td', { class: 'num' }), label: el('td', {}), comment: el('td', { class: 'text' }),
      timeout: el('td', { class: 'num' }), since: el('td', {}),
      left: el('td', { class: 'num', 'data-time-left': '' }),
    };
    const resume = this.canResume
      ? el('td', {}, el('button', { type: 'button', class: 'resume', 'data-action': 'resume',
        'data-instance': id, onclick: () => this.openForm(id) }, 'Resume…'))
      : null;
    const tr = el('tr', { 'data-instance': id }, el('td', { class: 'num' }, String(id)),
      cells.op, cells.label, cells.comment, cells.timeout, cells.since, cells.left, resume);
    return { tr, cells };
  }

  updateRow(row, entry) {
    const op = entry.operation || {};
    const args = op.arguments || {};
    const { cells } = row;
    setText(cells.op, op.idx ?? '–');
    setText(cells.label, op.label ?? '');
    setText(cells.comment, args.comment === undefined ? '' : String(args.comment));
    const seconds = haltSeconds(op);
    setText(cells.timeout, seconds === null ? String(args.seconds) : duration(seconds));
    setText(cells.since, entry.time_halted ? localTime(entry.time_halted) : '–');
    setText(cells.left, Number.isFinite(entry.time_left) ? duration(entry.time_left) : '–');
  }

  openForm(id) {
    if (this.form && this.form.instanceId === id) {
      this.form.textarea.focus();
      return;
    }
    this.closeForm();
    const row = this.rows.get(id);
    if (!row) return;
    const error = el('p', { id: 'resume-error', class: 'message error', role: 'alert', hidden: true });
    const textarea = el('textarea', { id: 'resume-vars', rows: 4, spellcheck: 'false',
      placeholder: '{"code": 42}', 'aria-describedby': 'resume-help',
      oninput: () => { error.hidden = true; } });
    const submit = el('button', { id: 'resume-submit', type: 'submit', 'data-action': 'resume-submit' },
      `Resume instance ${id}`);
    const form = el('form', { id: 'resume-form', class: 'resume-form', 'data-instance': id,
      onsubmit: (event) => {
        event.preventDefault();
        this.submit();
      } },
    el('label', { for: 'resume-vars' }, `vars for instance ${id}`),
    textarea,
    el('p', { id: 'resume-help', class: 'hint' },
      'A JSON object; its top-level keys replace those of the instance\'s v before it continues. Leave empty to resume without vars.'),
    error,
    el('div', { class: 'buttons' }, submit,
      el('button', { type: 'button', id: 'resume-close', 'data-action': 'resume-close', onclick: () => this.closeForm() }, 'Close')));
    const tr = el('tr', { class: 'form-row' }, el('td', { colspan: 7 }, form));
    this.tbody.insertBefore(tr, row.tr.nextSibling);
    this.form = { instanceId: id, tr, textarea, error, submit };
    this.message.hidden = true;
    textarea.focus();
  }

  closeForm() {
    if (!this.form) return;
    this.form.tr.remove();
    this.form = null;
  }

  async submit() {
    const form = this.form;
    const parsed = parseVars(form.textarea.value);
    if (parsed.error) {
      showError(form.error, parsed.error);
      form.textarea.focus();
      return;
    }
    const params = { run_id: this.runId, instance_id: form.instanceId };
    if (parsed.vars) params.vars = parsed.vars;
    form.submit.disabled = true;
    try {
      await call('ResumeInstance', params);
      if (this.form === form) this.closeForm();
      this.say(`Resumed instance ${form.instanceId}.`, false);
      this.onResumed(form.instanceId);
    } catch (error) {
      if (error.name === 'AuthError') this.onAuth(error);
      else showError(form.error, describeError('ResumeInstance', error));
    } finally {
      form.submit.disabled = false;
    }
  }

  say(text, isError) {
    this.message.hidden = false;
    this.message.classList.toggle('error', isError);
    this.message.classList.toggle('ok', !isError);
    setText(this.message, text);
  }
}

function showError(node, text) {
  node.hidden = false;
  setText(node, text);
}
