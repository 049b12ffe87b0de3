// DOM helpers. Stored values only ever become text nodes or attribute
// values, never markup, so a span attribute holding HTML or script shows
// as text.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

export function fmtTime(t) {
  if (t === null || t === undefined) return '—';
  return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtNum(v, digits = 3) {
  if (v === null || v === undefined) return '—';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v).toFixed(digits);
}

export function card(label, value, key) {
  return el('div', { class: 'card' }, el('div', { class: 'n', 'data-k': key }, value), el('div', { class: 'l' }, label));
}

// table renders rows with one cell function per column.
export function table(cols, rows, attrs) {
  return el('table', attrs,
    el('thead', {}, el('tr', {}, cols.map(c => el('th', {}, c.label)))),
    el('tbody', {}, rows.map(r => el('tr', {}, cols.map(c => el('td', {}, c.cell(r)))))));
}
