// The embed web page: vanilla JS talking to the JSON API under /v1 (no CDN, no build step).
"use strict";

const KEY_STORE = "embed.apiKey";
const KEY_HEADER = "X-API-Key";
const $ = (id) => document.getElementById(id);

// ---- API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(code, message, status, suggestions) {
    super(message);
    this.code = code;
    this.status = status;
    this.suggestions = suggestions || []; // "did you mean" words of a word_not_found error
  }
}

// fetch a /v1 path relative to the page; throws ApiError with the API's own code and message.
async function api(path, body) {
  const headers = { Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers[KEY_HEADER] = key;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(new URL("v1/" + path, document.baseURI), init);
  } catch (err) {
    throw new ApiError("network", "the server did not answer (" + err.message + ")", 0);
  }
  let data = null;
  try {
    data = await resp.json();
  } catch (err) {
    data = null;
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(e.code || "http_" + resp.status, e.message || resp.statusText, resp.status, e.suggestions);
  }
  return data;
}

const enc = encodeURIComponent;
const model = () => $("model").value;

// ---- errors ------------------------------------------------------------------------------

function showError(err) {
  const box = $("error");
  box.textContent = "";
  const code = document.createElement("strong");
  code.textContent = err.code || "error";
  box.append(code, " " + err.message);
  if (err.suggestions && err.suggestions.length) {
    const p = document.createElement("p");
    p.className = "suggestions";
    p.append("Did you mean: ");
    err.suggestions.forEach((w, i) => {
      const a = document.createElement("a");
      a.href = "#";
      a.className = "suggestion";
      a.textContent = w;
      a.addEventListener("click", (ev) => {
        ev.preventDefault();
        pickWord(w);
      });
      p.append(i ? ", " : "", a);
    });
    box.append(p);
  }
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// Runs an async UI action, showing any API error on the page instead of failing silently.
async function guarded(action) {
  clearError();
  document.body.classList.add("busy");
  try {
    await action();
  } catch (err) {
    showError(err instanceof ApiError ? err : new ApiError("client", String(err.message || err), 0));
  } finally {
    document.body.classList.remove("busy");
  }
}

// ---- results tables ----------------------------------------------------------------------

function fillTable(table, rows, onPick) {
  const body = table.tBodies[0];
  body.textContent = "";
  rows.forEach((r, i) => {
    const tr = body.insertRow();
    tr.insertCell().textContent = String(i + 1);
    const cell = tr.insertCell();
    const a = document.createElement("a");
    a.href = "#";
    a.className = "word";
    a.textContent = r.word;
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      onPick(r.word);
    });
    cell.append(a);
    tr.insertCell().textContent = r.score.toFixed(4);
  });
  table.hidden = false;
}

// ---- neighbours and the map --------------------------------------------------------------

// Hides the previous query's table and map, so that an error never sits above stale results.
function clearNeighbours() {
  $("neighbours").hidden = true;
  $("neighbours").tBodies[0].textContent = "";
  $("scatter").textContent = "";
}

async function findNeighbours() {
  const word = $("word").value.trim();
  if (!word) return;
  clearNeighbours();
  const metric = $("metric").value;
  const k = Math.max(1, Math.min(100, parseInt($("k").value, 10) || 10));
  const data = await api(`models/${enc(model())}/similar`, { word, k, metric });
  const rows = data.results;
  $("neighbours").querySelector(".score-head").textContent = metric === "cosine" ? "cosine" : "distance";
  fillTable($("neighbours"), rows, pickWord);
  history.replaceState(null, "", `?model=${enc(model())}&word=${enc(word)}`);
  const words = [word, ...rows.map((r) => r.word)];
  const data2 = await api(`models/${enc(model())}/vectors`, { words });
  drawScatter($("scatter"), words, pca2(data2.vectors.map((v) => v.vector)));
}

function pickWord(word) {
  $("word").value = word;
  guarded(findNeighbours);
}

// PCA to 2-D of a few vectors (rows): power iteration with deflation on the n x n Gram matrix
// of the centred rows, which is small (n <= 101) whatever the dimension.
function pca2(rows) {
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

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// An SVG scatter: point 0 is the query (highlighted), the rest its neighbours.
function drawScatter(box, words, xy) {
  const W = 560, H = 400, pad = 48;
  const xs = xy.map((p) => p[0]), ys = xy.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `map of ${words[0]} and its neighbours` });
  svg.append(svgEl("rect", { x: 0, y: 0, width: W, height: H, class: "frame" }));
  // spokes first, so that no line crosses a point or a label
  words.slice(1).forEach((_, j) => svg.append(svgEl("line", { x1: sx(xy[0][0]), y1: sy(xy[0][1]), x2: sx(xy[j + 1][0]), y2: sy(xy[j + 1][1]), class: "spoke" })));
  const placed = [];
  words.forEach((w, i) => {
    const [cx, cy] = [sx(xy[i][0]), sy(xy[i][1])];
    const g = svgEl("g", { class: i === 0 ? "point query" : "point", "data-word": w });
    g.append(svgEl("circle", { cx, cy, r: i === 0 ? 7 : 5 }));
    g.append(svgEl("text", labelSpot(placed, w, cx, cy, W), w));
    g.addEventListener("click", () => pickWord(w));
    svg.append(g);
  });
  box.textContent = "";
  box.append(svg);
}

// Where a label goes: beside its point, right or left (left first in the right third), a little
// above or below, at the first spot that stays inside the picture and overlaps no label placed
// before; if none is free, the first spot. Widths are estimated (8 px a character, 14 for CJK).
function labelSpot(placed, word, cx, cy, W) {
  const w = [...word].reduce((s, ch) => s + (ch.codePointAt(0) >= 0x2e80 ? 14 : 8), 4), h = 15;
  const sides = cx > (2 * W) / 3 ? [true, false] : [false, true];
  const spots = [];
  for (const left of sides) {
    for (const dy of [-6, 14, -20]) spots.push({ left, dy, box: { x: left ? cx - 8 - w : cx + 8, y: cy + dy - h + 4, w, h } });
  }
  const free = (s) => s.box.x >= 0 && s.box.x + w <= W && !placed.some((b) => s.box.x < b.x + b.w && b.x < s.box.x + s.box.w && s.box.y < b.y + b.h && b.y < s.box.y + s.box.h);
  const spot = spots.find(free) || spots[0];
  placed.push(spot.box);
  return { x: spot.left ? cx - 8 : cx + 8, y: cy + spot.dy, "text-anchor": spot.left ? "end" : "start" };
}

// ---- analogy -----------------------------------------------------------------------------

async function solveAnalogy() {
  const [a, b, c] = ["analogy-a", "analogy-b", "analogy-c"].map((id) => $(id).value.trim());
  $("analogy-results").hidden = true;
  const data = await api(`models/${enc(model())}/analogy`, { a, b, c, k: 5 });
  fillTable($("analogy-results"), data.results, pickWord);
}

// ---- autocomplete and models -------------------------------------------------------------

let completeTimer = null;
let lastPrefix = null;

function scheduleComplete(ev) {
  clearTimeout(completeTimer);
  const prefix = ev.target.value.trim();
  if (!prefix || prefix === lastPrefix || !model()) return;
  completeTimer = setTimeout(async () => {
    lastPrefix = prefix;
    try {
      const data = await api(`models/${enc(model())}/words?prefix=${enc(prefix)}&limit=10`);
      const list = $("vocab");
      list.textContent = "";
      data.words.forEach((w) => list.append(new Option(w, w)));
    } catch (err) {
      // autocomplete is a convenience: errors show when the query itself runs
    }
  }, 120);
}

async function loadModels(wanted) {
  const data = await api("models");
  const select = $("model");
  select.textContent = "";
  data.models.forEach((m) => select.append(new Option(`${m.name} (${m.vocab_size.toLocaleString()} words, ${m.dim}-d)`, m.name)));
  if (wanted && !data.models.some((m) => m.name === wanted)) {
    select.append(new Option(`${wanted} (not loaded)`, wanted)); // let the API say what is wrong
  }
  if (wanted) select.value = wanted;
  if (!select.options.length) {
    // the server lists models once loaded (GET /readyz says when all are)
    throw new ApiError("not_ready", "no model is loaded yet; reload the page in a moment", 503);
  }
}

function init() {
  const params = new URLSearchParams(location.search);
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  $("api-key").addEventListener("change", () => {
    localStorage.setItem(KEY_STORE, $("api-key").value.trim());
    guarded(() => loadModels(model()));
  });
  $("model").addEventListener("change", () => {
    lastPrefix = null;
    $("vocab").textContent = "";
  });
  $("neighbours-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(findNeighbours);
  });
  $("analogy-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(solveAnalogy);
  });
  ["word", "analogy-a", "analogy-b", "analogy-c"].forEach((id) => $(id).addEventListener("input", scheduleComplete));
  guarded(async () => {
    try {
      await loadModels(params.get("model"));
      if (params.get("word")) {
        $("word").value = params.get("word");
        await findNeighbours();
      }
    } finally {
      document.body.dataset.ready = "1"; // tests and scripts wait for this
    }
  });
}

document.addEventListener("DOMContentLoaded", init);
