// The vocabulary cloud: the model's most frequent words, projected on the server (PCA, t-SNE, UMAP or two
// word-difference axes) and drawn by Google PAIR's scatter-gl (vendor/, on three.js) in 2-D or 3-D.
// Hover shows a word; click makes it the query; its neighbours light up; search highlights matches.
// window.embedExplorer is the data layer that tests and bench/explorer.py read.
import { $, api, asApiError, el, enc, model, setParams } from "./core.js";

const CUBE = 2; // scatter-gl's SCATTER_PLOT_CUBE_LENGTH: positions are scaled into [-1, 1]
const QUERY = "rgba(232,89,12,1)", NEIGHBOUR = "rgba(31,111,235,1)", MATCH = "rgba(22,150,70,1)";
const RAMP_LOW = [178, 196, 226], RAMP_HIGH = [24, 52, 128]; // rare words light, frequent words dark
const ramp = (alpha) => Array.from({ length: 24 }, (_, i) => {
  const t = i / 23, c = RAMP_LOW.map((lo, j) => Math.round(lo + t * (RAMP_HIGH[j] - lo)));
  return `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;
});
const RAMP = ramp(0.85), FADED = ramp(0.3); // FADED: the same colours behind a query or a search
const fade = (colour) => (colour.startsWith("rgba(") ? colour.replace(/,[\d.]+\)$/, ",0.3)") : colour);
const SCRIPTS = [["Chinese / Japanese / Korean", "rgba(200,60,60,0.85)"], ["letters", "rgba(40,80,170,0.85)"], ["digits and other", "rgba(120,120,120,0.85)"]];
const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]/u;
const MAX_LABELS = 40;
const NAMES = { pca: "PCA", tsne: "t-SNE", umap: "UMAP" };

const state = { data: null, index: new Map(), pos: null, scatter: null, colour: null, query: -1, lit: [], matches: null, generation: 0, onPick: () => {} };

export const explorer = (window.embedExplorer = {
  points: 0, method: null, dims: 0, hovered: null, lit: [], matches: 0, firstRenderMs: null, renders: 0,
  // screen position (CSS px, relative to the cloud) of a word's point, for tests and benchmarks
  screenPos: (word) => (state.index.has(word) ? screenPos(state.index.get(word)) : null),
});

function status(text, bad) {
  const s = $("cloud-status");
  s.textContent = text;
  s.classList.toggle("bad", Boolean(bad));
}

export function initCloud(onPick) {
  state.onPick = onPick;
  ["cloud-method", "cloud-dims", "cloud-n"].forEach((id) => $(id).addEventListener("change", () => loadCloud()));
  $("cloud-colour").addEventListener("change", () => recolour());
  $("cloud-search").addEventListener("input", () => search($("cloud-search").value));
  ["custom-form", "cloud-controls"].forEach((id) => $(id).addEventListener("submit", (ev) => {
    ev.preventDefault(); // Enter in a box redraws; it never reloads the page
    loadCloud();
  }));
  window.addEventListener("resize", () => {
    if (state.scatter) state.scatter.resize();
    layoutLabels();
  });
}

// Fetch and draw the cloud for the current model and controls. Errors go to the cloud's status line.
export async function loadCloud() {
  const generation = ++state.generation;
  const method = $("cloud-method").value;
  const dims = method === "custom" ? 2 : parseInt($("cloud-dims").value, 10);
  $("custom-form").hidden = method !== "custom";
  $("cloud-dims").disabled = method === "custom";
  const n = $("cloud-n").value.trim();
  setParams({ method: method === "pca" ? null : method, dims: dims === 2 ? null : dims });
  $("cloud").dataset.state = "loading";
  status(method === "pca" || method === "custom" ? "loading the cloud..." : `loading the ${NAMES[method]} cloud (the first time the server computes it: up to a minute)...`);
  try {
    const data = method === "custom" ? await api(`models/${enc(model())}/projection/custom`, customBody(n)) : await api(`models/${enc(model())}/projection?method=${method}&dims=${dims}` + (n ? `&n=${enc(n)}` : ""));
    if (generation !== state.generation) return; // a newer request (another model or method) won
    draw(data);
  } catch (err) {
    if (generation !== state.generation) return;
    const e = asApiError(err);
    clearCloud();
    $("cloud").dataset.state = "error";
    status(`${e.code}: ${e.message}` + (e.suggestions.length ? ` (did you mean: ${e.suggestions.join(", ")}?)` : ""), true);
  }
}

function customBody(n) {
  const v = (id) => $(id).value.trim() || $(id).placeholder;
  const body = { x: { start: v("axis-x-start"), end: v("axis-x-end") }, y: { start: v("axis-y-start"), end: v("axis-y-end") } };
  if (n) body.n = parseInt(n, 10);
  return body;
}

function clearCloud() {
  state.data = null;
  state.index = new Map();
  if (state.scatter) state.scatter.render(new ScatterGL.Dataset([[0, 0]], [{ label: "" }]));
  $("cloud-labels").textContent = "";
  Object.assign(explorer, { points: 0, method: null, dims: 0, lit: [], matches: 0 });
  $("cloud").dataset.points = "0";
}

function draw(data) {
  const { n, dims, coords, words } = data;
  const points = new Array(n);
  for (let i = 0; i < n; i++) points[i] = dims === 3 ? [coords[3 * i], coords[3 * i + 1], coords[3 * i + 2]] : [coords[2 * i], coords[2 * i + 1]];
  state.data = data;
  state.index = new Map(words.map((w, i) => [w, i]));
  state.pos = positions(points, dims);
  const dataset = new ScatterGL.Dataset(points, words.map((w) => ({ label: w })));
  if (!state.scatter) {
    state.scatter = new ScatterGL($("cloud"), {
      rotateOnStart: false, selectEnabled: false, showLabelsOnHover: true,
      onHover: (i) => hover(i), onClick: (i) => (i === null || i === undefined ? null : ((explorer.clickAt = performance.now()), state.onPick(state.data.words[i]))),
      onCameraMove: () => layoutLabels(),
      styles: { point: { scaleDefault: 1, scaleSelected: 2, scaleHover: 1.8 }, fog: { enabled: false } },
    });
  }
  state.scatter.render(dataset);
  if (dims === 2) state.scatter.setPanMode(); // drag pans, wheel zooms; 3-D: drag rotates
  state.query = explorer.queryWord && state.index.has(explorer.queryWord) ? state.index.get(explorer.queryWord) : -1;
  state.lit = (explorer.lit || []).map((w) => state.index.get(w)).filter((i) => i !== undefined);
  colourScheme();
  search($("cloud-search").value, false);
  recolour();
  Object.assign(explorer, { points: n, method: data.method, dims, renders: explorer.renders + 1 });
  const cloud = $("cloud");
  Object.assign(cloud.dataset, { state: "ready", points: String(n), method: data.method, dims: String(dims) });
  const took = data.seconds >= 0.1 ? `, computed once in ${data.seconds.toFixed(1)} s` : "";
  const of = data.vocab_size > n ? ` most frequent of ${data.vocab_size.toLocaleString()}` : "";
  status(`${n.toLocaleString()}${of} words, ${label(data)}${took}. ${dims === 3 ? "Drag to rotate, right-drag to pan" : "Drag to pan"}, wheel to zoom; hover a point for its word, click it to query it.`);
  requestAnimationFrame(() => {
    if (explorer.firstRenderMs === null) {
      performance.mark("cloud-rendered");
      explorer.firstRenderMs = performance.now(); // ms since navigation start
    }
  });
}

function label(data) {
  if (data.method === "custom") return `along ${data.params.x.join(" → ")} (x) and ${data.params.y.join(" → ")} (y)`;
  return `${NAMES[data.method]} ${data.dims}-D`;
}

// The same scaling scatter-gl applies (each axis into [-1, 1], keeping aspect), to place our labels.
function positions(points, dims) {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  points.forEach((p) => p.forEach((x, j) => ((lo[j] = Math.min(lo[j], x)), (hi[j] = Math.max(hi[j], x)))));
  const range = lo.map((l, j) => (j < dims ? hi[j] - l : 0));
  const max = Math.max(...range) || 1;
  const pos = new Float32Array(points.length * 3);
  points.forEach((p, i) => {
    for (let j = 0; j < dims; j++) {
      const half = ((CUBE / 2) * range[j]) / max;
      pos[3 * i + j] = range[j] ? -half + ((p[j] - lo[j]) / range[j]) * 2 * half : 0;
    }
  });
  return pos;
}

function screenPos(i) {
  const plot = state.scatter && state.scatter.scatterPlot;
  if (!plot || !plot.camera || !state.pos) return null;
  const v = new THREE.Vector3(state.pos[3 * i], state.pos[3 * i + 1], state.pos[3 * i + 2]).project(plot.camera);
  if (v.z > 1 || v.z < -1) return null; // behind the camera
  return [((v.x + 1) / 2) * plot.width, ((1 - v.y) / 2) * plot.height];
}

function hover(i) {
  const word = i === null || i === undefined || !state.data ? null : state.data.words[i];
  explorer.hovered = word;
  explorer.hoverAt = performance.now(); // bench/explorer.py: hover latency, and to the next frame
  requestAnimationFrame(() => (explorer.hoverPaintAt = performance.now()));
  const counts = state.data && state.data.counts;
  $("cloud-hover").textContent = word === null ? "" : counts ? `${word} (${counts[i].toLocaleString()} occurrences, #${i + 1})` : `${word} (#${i + 1})`;
}

// ---- colour -------------------------------------------------------------------------------------

// Per-point base colours from the "colour by" choice, and the legend that explains them.
function colourScheme() {
  const { words, counts, n } = state.data;
  const by = $("cloud-colour").value;
  const base = new Array(n);
  let legend = "";
  if (by === "frequency") {
    const value = counts ? (i) => Math.log(counts[i] + 1) : (i) => -Math.log(i + 1); // rows are most frequent first
    const hi = value(0), lo = value(n - 1);
    for (let i = 0; i < n; i++) base[i] = RAMP[Math.round(((value(i) - lo) / (hi - lo || 1)) * 23)];
    legend = counts ? `dark: frequent (${counts[0].toLocaleString()}), light: rare (${counts[n - 1].toLocaleString()}), log scale` : "dark: frequent, light: rare (by rank)";
  } else if (by === "length") {
    const lengths = words.map((w) => [...w].length), top = Math.min(12, Math.max(...lengths));
    for (let i = 0; i < n; i++) base[i] = RAMP[Math.round((Math.min(lengths[i], top) / top) * 23)];
    legend = `light: 1 character, dark: ${top}+ characters`;
  } else {
    for (let i = 0; i < n; i++) base[i] = SCRIPTS[CJK.test(words[i]) ? 0 : /\p{L}/u.test(words[i]) ? 1 : 2][1];
    legend = SCRIPTS.map(([name]) => name).join(" / ") + ": red / blue / grey";
  }
  state.colour = base;
  const faded = new Map(RAMP.map((c, i) => [c, FADED[i]]));
  state.faded = base.map((c) => faded.get(c) || fade(c));
  $("cloud-legend").textContent = legend;
}

function recolour() {
  if (!state.scatter || !state.data) return;
  if (!state.colour || state.colour.length !== state.data.n || $("cloud-colour").dataset.shown !== $("cloud-colour").value) colourScheme();
  $("cloud-colour").dataset.shown = $("cloud-colour").value;
  const lit = new Set(state.lit), base = state.colour, faded = state.faded, matches = state.matches;
  // enlarged as selected points (styles.point.scaleSelected); set directly, as select() would redraw a second time
  state.scatter.selectedPointIndices = new Set(state.query >= 0 ? [state.query, ...state.lit] : state.lit);
  state.scatter.setPointColorer((i) => {
    if (i === state.query) return QUERY;
    if (lit.has(i)) return NEIGHBOUR;
    if (matches) return matches.has(i) ? MATCH : faded[i];
    return lit.size || state.query >= 0 ? faded[i] : base[i];
  });
  layoutLabels();
}

// ---- search and neighbours ------------------------------------------------------------------------

// Highlight every word matching `text`: a substring (case ignored), or a regular expression as /.../.
function search(text, redraw = true) {
  const q = text.trim();
  state.matches = null;
  $("cloud-search").classList.remove("bad");
  let note = "";
  if (q && state.data) {
    let test;
    if (q.length > 2 && q.startsWith("/") && q.endsWith("/")) {
      try {
        const re = new RegExp(q.slice(1, -1), "iu");
        test = (w) => re.test(w);
      } catch (err) {
        $("cloud-search").classList.add("bad");
        note = `not a valid regular expression: ${err.message}`;
      }
    } else {
      const needle = q.toLowerCase();
      test = (w) => w.toLowerCase().includes(needle);
    }
    if (test) {
      state.matches = new Set();
      state.data.words.forEach((w, i) => test(w) && state.matches.add(i));
      note = `${state.matches.size.toLocaleString()} of ${state.data.n.toLocaleString()} words match`;
    }
  }
  explorer.matches = state.matches ? state.matches.size : 0;
  $("cloud-matches").textContent = note;
  if (redraw) recolour();
}

// Light the query and its neighbours (those among the cloud's words) and label them.
export function showNeighbours(query, words) {
  explorer.queryWord = query;
  explorer.lit = words.slice();
  if (!state.data) return;
  state.query = state.index.has(query) ? state.index.get(query) : -1;
  state.lit = words.map((w) => state.index.get(w)).filter((i) => i !== undefined);
  const outside = words.length - state.lit.length;
  $("cloud-hover").textContent = state.query < 0 ? `${query} is not among the cloud's ${state.data.n.toLocaleString()} words` : outside ? `${outside} of ${query}'s neighbours are outside the cloud` : "";
  explorer.recolourAt = performance.now();
  recolour();
  explorer.litAt = performance.now(); // bench/explorer.py: click latency
  requestAnimationFrame(() => (explorer.litPaintAt = performance.now()));
}

export function clearNeighbours() {
  explorer.queryWord = null;
  explorer.lit = [];
  state.query = -1;
  state.lit = [];
  recolour();
}

// Labels for the query, its neighbours and the first search matches; a label that would overlap one
// already placed is left out (its point stays lit), so labels never collide.
function layoutLabels() {
  const box = $("cloud-labels");
  box.textContent = "";
  if (!state.data || !state.scatter) return;
  const order = [state.query, ...state.lit, ...(state.matches ? [...state.matches].slice(0, MAX_LABELS) : [])].filter((i) => i >= 0);
  const placed = [];
  const shown = new Set();
  for (const i of order) {
    if (shown.has(i) || placed.length >= MAX_LABELS) continue;
    const p = screenPos(i);
    if (!p) continue;
    const word = state.data.words[i];
    const w = [...word].reduce((s, ch) => s + (CJK.test(ch) ? 14 : 7.5), 8), h = 17;
    const r = { x: p[0] + 6, y: p[1] - h / 2, w, h };
    if (r.x + w > box.clientWidth) r.x = p[0] - 6 - w; // keep it inside the picture
    if (r.x < 0 || r.y < 0 || r.y + h > box.clientHeight) continue;
    if (placed.some((b) => r.x < b.x + b.w && b.x < r.x + r.w && r.y < b.y + b.h && b.y < r.y + r.h)) continue;
    placed.push(r);
    shown.add(i);
    const span = el("span", i === state.query ? "cloud-label query" : state.lit.includes(i) ? "cloud-label neighbour" : "cloud-label match", word);
    span.style.transform = `translate(${Math.round(r.x)}px, ${Math.round(r.y)}px)`;
    box.append(span);
  }
}
