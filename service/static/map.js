// The small SVG maps: a query and its neighbours, or an analogy with its arrows, projected by PCA.
import { svgEl } from "./core.js";

// PCA to 2-D of a few vectors (rows): power iteration with deflation on the n x n Gram matrix
// of the centred rows, which is small (n <= 101) whatever the dimension.
export function pca2(rows) {
  const n = rows.length;
  const d = rows[0].length;
  const mean = new Array(d).fill(0);
  rows.forEach((r) => r.forEach((x, j) => (mean[j] += x / n)));
  const c = rows.map((r) => r.map((x, j) => x - mean[j]));
  const g = c.map((a) => c.map((b) => a.reduce((s, x, j) => s + x * b[j], 0)));
  const coords = rows.map(() => [0, 0]);
  for (let comp = 0; comp < 2; comp++) {
    let v = rows.map((_, i) => 1 + ((i * 7919) % 13) / 13); // fixed, non-degenerate start
    let lambda = 0;
    for (let it = 0; it < 200; it++) {
      const w = g.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
      const norm = Math.hypot(...w);
      if (norm < 1e-12) break;
      lambda = norm;
      v = w.map((x) => x / norm);
    }
    v.forEach((x, i) => (coords[i][comp] = x * Math.sqrt(lambda)));
    // deflate: remove the component just found
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i][j] -= lambda * v[i] * v[j];
  }
  return coords;
}

// An SVG scatter of `words` (their `vectors`): point 0 is the query (highlighted), or, with
// `opts.arrows` ([from, to] index pairs), an analogy drawn as arrows a -> b and c -> answer.
// Labels avoid each other: a label with no free spot is left out (its point stays, with a tooltip).
export function drawMap(box, words, vectors, opts) {
  const xy = pca2(vectors);
  const W = 560, H = 400, pad = 48;
  const xs = xy.map((p) => p[0]), ys = xy.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label });
  svg.append(svgEl("rect", { x: 0, y: 0, width: W, height: H, class: "frame" }));
  const arrows = opts.arrows || [];
  if (arrows.length) {
    const defs = svgEl("defs", {});
    const marker = svgEl("marker", { id: `${box.id}-head`, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
    defs.append(marker);
    svg.append(defs);
    arrows.forEach(([a, b], i) => {
      const [ax, ay, bx, by] = [sx(xy[a][0]), sy(xy[a][1]), sx(xy[b][0]), sy(xy[b][1])];
      const len = Math.hypot(bx - ax, by - ay) || 1, trim = 9 / len; // stop short of the point
      svg.append(svgEl("line", { x1: ax, y1: ay, x2: bx - (bx - ax) * trim, y2: by - (by - ay) * trim, class: i ? "arrow answer" : "arrow", "marker-end": `url(#${box.id}-head)` }));
    });
  } else {
    // spokes first, so that no line crosses a point or a label
    words.slice(1).forEach((_, j) => svg.append(svgEl("line", { x1: sx(xy[0][0]), y1: sy(xy[0][1]), x2: sx(xy[j + 1][0]), y2: sy(xy[j + 1][1]), class: "spoke" })));
  }
  const placed = [];
  const roles = opts.roles || [];
  words.forEach((w, i) => {
    const [cx, cy] = [sx(xy[i][0]), sy(xy[i][1])];
    const role = roles[i] || (arrows.length ? "other" : i === 0 ? "query" : "");
    const g = svgEl("g", { class: `point ${role}`.trim(), "data-word": w });
    g.append(svgEl("title", {}, w));
    g.append(svgEl("circle", { cx, cy, r: role === "query" || role === "answer" ? 7 : 5 }));
    const spot = labelSpot(placed, w, cx, cy, W, H, i === 0 || i < (arrows.length ? 4 : 1));
    if (spot) g.append(svgEl("text", spot, w));
    g.addEventListener("click", () => opts.onPick(w));
    svg.append(g);
  });
  box.textContent = "";
  box.append(svg);
}

// Where a label goes: beside its point, right or left (left first in the right third), a little
// above or below, at the first spot inside the picture that overlaps no label placed before; with
// none free, null (the label is left out) unless `must` (the query: its label always shows).
// Widths are estimated (8 px a character, 14 for CJK).
function labelSpot(placed, word, cx, cy, W, H, must) {
  const w = [...word].reduce((s, ch) => s + (ch.codePointAt(0) >= 0x2e80 ? 14 : 8), 4), h = 15;
  const sides = cx > (2 * W) / 3 ? [true, false] : [false, true];
  const spots = [];
  for (const left of sides) {
    for (const dy of [-6, 14, -20, 28]) spots.push({ left, dy, box: { x: left ? cx - 8 - w : cx + 8, y: cy + dy - h + 4, w, h } });
  }
  const overlaps = (s) => placed.some((b) => s.box.x < b.x + b.w && b.x < s.box.x + s.box.w && s.box.y < b.y + b.h && b.y < s.box.y + s.box.h);
  const inside = (s) => s.box.x >= 0 && s.box.x + w <= W && s.box.y >= 0 && s.box.y + h <= H;
  const spot = spots.find((s) => inside(s) && !overlaps(s)) || (must ? spots.find(inside) || spots[0] : null);
  if (!spot) return null;
  placed.push(spot.box);
  return { x: spot.left ? cx - 8 : cx + 8, y: cy + spot.dy, "text-anchor": spot.left ? "end" : "start" };
}
