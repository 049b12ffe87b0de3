// A small SVG line chart (series of [x, y] points, shared axes).
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#db2777'];

function svg(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

export function lineChart(series, { width = 760, height = 240, xLabel = (x) => String(x), yLabel = (y) => y.toFixed(2), key = 'chart' } = {}) {
  const root = svg('svg', { class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, 'data-k': key });
  const pts = series.flatMap(s => s.points);
  if (pts.length === 0) {
    root.appendChild(svg('text', { x: 20, y: height / 2, fill: '#667085' }, 'no data yet'));
    return root;
  }
  const pad = { l: 48, r: 12, t: 10, b: 28 };
  let [x0, x1] = [Math.min(...pts.map(p => p[0])), Math.max(...pts.map(p => p[0]))];
  let [y0, y1] = [Math.min(...pts.map(p => p[1])), Math.max(...pts.map(p => p[1]))];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = x => pad.l + (x - x0) / (x1 - x0) * (width - pad.l - pad.r);
  const sy = y => height - pad.b - (y - y0) / (y1 - y0) * (height - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    root.appendChild(svg('line', { x1: pad.l, x2: width - pad.r, y1: sy(y), y2: sy(y), stroke: '#eaecf0' }));
    root.appendChild(svg('text', { x: 4, y: sy(y) + 4, 'font-size': 10, fill: '#667085' }, yLabel(y)));
  }
  for (const x of [x0, (x0 + x1) / 2, x1]) {
    root.appendChild(svg('text', { x: sx(x), y: height - 8, 'font-size': 10, fill: '#667085', 'text-anchor': 'middle' }, xLabel(x)));
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    // A series with several points at one x (candidates of a round) is a
    // scatter; a line through them would mean nothing.
    const oneYPerX = new Set(sorted.map(p => p[0])).size === sorted.length;
    if (sorted.length > 1 && oneYPerX) {
      root.appendChild(svg('polyline', { fill: 'none', stroke: color, 'stroke-width': 2,
        points: sorted.map(p => `${sx(p[0])},${sy(p[1])}`).join(' ') }));
    }
    for (const p of sorted) {
      const c = svg('circle', { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: color, 'data-series': s.name, 'data-y': p[1] });
      c.appendChild(svg('title', {}, `${s.name}: ${yLabel(p[1])} at ${xLabel(p[0])}`));
      root.appendChild(c);
    }
  });
  return root;
}

export function legend(series) {
  const d = document.createElement('div');
  d.className = 'legend';
  series.forEach((s, i) => {
    const sp = document.createElement('span');
    sp.style.color = COLORS[i % COLORS.length];
    sp.textContent = '● ' + s.name;
    d.appendChild(sp);
  });
  return d;
}
