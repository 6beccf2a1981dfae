// SPDX-License-Identifier: Apache-2.0
// Building DOM nodes. Everything the daemon sends is untrusted text (run ids, tags, check
// texts, protocol messages), so it only ever reaches the page as text nodes: nothing here
// parses HTML, and the CSP (default-src 'self') forbids style attributes, so none are set.

// el('td', {class: 'num', 'data-count': 'started'}, '12') → <td class="num" data-count="started">12</td>
// Attributes: `on<event>` keys add listeners, `hidden`/`disabled` are booleans, null and
// false values are skipped. Children: nodes, strings (as text), arrays, null (skipped).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'style') {
      throw new Error('style attributes are forbidden by the page CSP; use a class');
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// Sets a node's text only when it changed, so a refresh each second does not disturb a
// selection the user is making in an unchanged cell.
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

// Shows or hides an element through the `hidden` attribute (a CSS rule keeps it hidden
// even where a class sets `display`).
export function show(node, visible) {
  node.hidden = !visible;
}
