// The vocabulary cloud: the model's most frequent words, projected on the server (PCA, t-SNE, UMAP or two
// word-difference axes) and drawn by Google PAIR's scatter-gl (vendor/, on three.js) in 2-D or 3-D.
// Hover shows a word; click makes it the query; its neighbours light up; search highlights matches.
// window.embedExplorer is the data layer that tests and bench/explorer.py read.
import { $, api, asApiError, el, enc, model, setParams } from "./core.js";

const CUBE = 2; // scatter-gl's SCATTER_PLOT_CUBE_LENGTH: positions are scaled into [-1, 1]
const MATCH = "rgba(22,150,70,1)"; // the query (orange) and its neighbours (blue) are lit over the canvas: style.css
const RAMP_LOW = [178, 196, 226], RAMP_HIGH = [24, 52, 128]; // rare words light, frequent words dark
const ramp = (alpha) => Array.from({ length: 24 }, (_, i) => {
  const t = i / 23, c = RAMP_LOW.map((lo, j) => Math.round(lo + t * (RAMP_HIGH[j] - lo)));
  return `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;
});
const RAMP = ramp(0.85), FADED = ramp(0.3); // FADED: the same colours behind a search (a query: #cloud-veil)
const fade = (colour) => (colour.startsWith("rgba(") ? colour.replace(/,[\d.]+\)$/, ",0.3)") : colour);
const SCRIPTS = [["Chinese / Japanese / Korean", "rgba(200,60,60,0.85)"], ["letters", "rgba(40,80,170,0.85)"], ["digits and other", "rgba(120,120,120,0.85)"]];
const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]/u;
const MAX_LABELS = 40;
const NAMES = { pca: "PCA", tsne: "t-SNE", umap: "UMAP" };

const state = { data: null, index: new Map(), pos: null, scatter: null, colour: null, query: -1, lit: [], matches: null, hovered: null, generation: 0, onPick: () => {} };

export const explorer = (window.embedExplorer = {
  points: 0, method: null, dims: 0, hovered: null, lit: [], matches: 0, firstRenderMs: null, renders: 0,
  // screen position (CSS px, relative to the cloud) of a word's point, for tests and benchmarks
  screenPos: (word) => (state.index.has(word) ? screenPos(state.index.get(word)) : null),
});

// `fn(now)` once the next frame is out: a task queued from requestAnimationFrame runs after that frame's
// commit, which waits for WebGL to finish (software compositing reads the canvas back), so `now` is when
// what was drawn before the call is on screen. bench/explorer.py's latencies end here.
function afterPaint(fn) {
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => fn(performance.now());
    channel.port2.postMessage(null);
  });
}

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
// A t-SNE or UMAP not computed yet is answered 202 {"status": "computing", "retry_after": s}: the page says
// so and asks again until the cloud is ready (or the computation's error comes back).
export async function loadCloud() {
  const generation = ++state.generation;
  const method = $("cloud-method").value;
  const dims = method === "custom" ? 2 : parseInt($("cloud-dims").value, 10);
  $("custom-form").hidden = method !== "custom";
  $("cloud-dims").disabled = method === "custom";
  const n = $("cloud-n").value.trim();
  setParams({ method: method === "pca" ? null : method, dims: dims === 2 ? null : dims });
  $("cloud").dataset.state = "loading";
  status("loading the cloud...");
  const fetchCloud = () => (method === "custom" ? api(`models/${enc(model())}/projection/custom`, customBody(n)) : api(`models/${enc(model())}/projection?method=${method}&dims=${dims}` + (n ? `&n=${enc(n)}` : "")));
  try {
    let data = await fetchCloud();
    while (data.status === "computing") {
      if (generation !== state.generation) return; // a newer request (another model or method) won
      $("cloud").dataset.state = "computing";
      status(`computing ${NAMES[data.method]}… ${data.n.toLocaleString()} words, ${Math.round(data.elapsed)} s so far (once: the server keeps it)`);
      await new Promise((resolve) => setTimeout(resolve, 1000 * data.retry_after));
      if (generation !== state.generation) return;
      data = await fetchCloud();
    }
    if (generation !== state.generation) return;
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
  state.hovered = null;
  $("cloud-pointer").hidden = true;
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
  state.hovered = null;
  state.index = new Map(words.map((w, i) => [w, i]));
  state.pos = positions(points, dims);
  state.query = explorer.queryWord && state.index.has(explorer.queryWord) ? state.index.get(explorer.queryWord) : -1;
  state.lit = (explorer.lit || []).map((w) => state.index.get(w)).filter((i) => i !== undefined);
  const dataset = new ScatterGL.Dataset(points, words.map((w) => ({ label: w })));
  if (!state.scatter) createScatter();
  state.scatter.render(dataset);
  if (dims === 2) state.scatter.setPanMode(); // drag pans, wheel zooms; 3-D: drag rotates
  colourScheme();
  search($("cloud-search").value, false);
  recolour();
  Object.assign(explorer, { points: n, method: data.method, dims, renders: explorer.renders + 1 });
  const cloud = $("cloud");
  Object.assign(cloud.dataset, { state: "ready", points: String(n), method: data.method, dims: String(dims) });
  const took = data.seconds >= 0.1 ? `, computed once in ${data.seconds.toFixed(1)} s` : "";
  const of = data.vocab_size > n ? ` most frequent of ${data.vocab_size.toLocaleString()}` : "";
  status(`${n.toLocaleString()}${of} words, ${label(data)}${took}. ${dims === 3 ? "Drag to rotate, right-drag to pan" : "Drag to pan"}, wheel to zoom; hover a point for its word, click it to query it.`);
  afterPaint((now) => {
    if (explorer.firstRenderMs === null) {
      performance.mark("cloud-rendered");
      explorer.firstRenderMs = now; // ms since navigation start
    }
  });
}

// Every scatter-gl redraw of 10,000 points costs 25-60 ms of software WebGL here (SwiftShader on 2 shared cores:
// a picking pass and a visible pass, whatever the point size), and the next frame waits for it, since software
// compositing reads the canvas back. scatter-gl redraws on every hover (to enlarge the point and draw its label)
// and on every click (though a click changes nothing), and recolouring 10,000 points to light a query redraws a
// third time: a click took 179 ms median, 336 ms max, to the painted frame (bench/explorer.py, 30 clicks,
// 2026-12-01). So hover, click and the lit neighbours are handled over the canvas (placeHover, lightUp) and a
// click redraws nothing; scatter-gl redraws only for a new cloud, a search, a colour scheme or the camera.
function createScatter() {
  const cloud = $("cloud");
  state.scatter = new ScatterGL(cloud, {
    rotateOnStart: false, selectEnabled: false, showLabelsOnHover: false,
    styles: { point: { scaleDefault: 1, scaleHover: 1 }, fog: { enabled: false } },
  });
  // Two hooks into scatter-gl 0.0.13's plot (vendored, pinned; tests/service/test_explorer_web.py and
  // tests/service/test_projection_poll.py cover both). Its hoverCallback runs when the point under the pointer
  // changes and redraws; ours only records the point. Its onCameraMove runs when a drag or a wheel step starts,
  // before the camera moves, so what is over the canvas follows every redraw instead.
  const plot = state.scatter.scatterPlot;
  plot.hoverCallback = (i) => hover(i);
  const render = plot.render.bind(plot);
  plot.render = () => {
    render();
    layoutLabels();
  };
  let down = null;
  cloud.addEventListener("pointerdown", (ev) => (down = [ev.clientX, ev.clientY]), true);
  cloud.addEventListener("click", (ev) => {
    ev.stopImmediatePropagation(); // scatter-gl's own click listener would only redraw
    const moved = !down || Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) > 3; // a drag pans or rotates
    if (moved || state.hovered === null || !state.data) return;
    explorer.clickAt = performance.now();
    state.onPick(state.data.words[state.hovered]);
  }, true);
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
  state.hovered = word === null ? null : i;
  explorer.hovered = word;
  placeHover();
  explorer.hoverAt = performance.now(); // bench/explorer.py: hover latency, and to the next frame
  afterPaint((now) => (explorer.hoverPaintAt = now));
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

// The cloud's own colours: the "colour by" scheme, and a search's matches (the rest faded). The query and its
// neighbours are not drawn here but over the canvas (lightUp), so lighting them never redraws 10,000 points.
function recolour() {
  if (!state.scatter || !state.data) return;
  if (!state.colour || state.colour.length !== state.data.n || $("cloud-colour").dataset.shown !== $("cloud-colour").value) colourScheme();
  $("cloud-colour").dataset.shown = $("cloud-colour").value;
  const base = state.colour, faded = state.faded, matches = state.matches;
  state.scatter.setPointColorer(matches ? (i) => (matches.has(i) ? MATCH : faded[i]) : (i) => base[i]); // redraws, relabels
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
  layoutLabels();
  explorer.litAt = performance.now(); // bench/explorer.py: click latency
  afterPaint((now) => (explorer.litPaintAt = now));
}

export function clearNeighbours() {
  explorer.queryWord = null;
  explorer.lit = [];
  state.query = -1;
  state.lit = [];
  layoutLabels();
}

// The hovered point: a ring around it and its word beside it (page elements: no redraw of the cloud).
function placeHover() {
  const mark = $("cloud-pointer");
  const p = state.hovered === null ? null : screenPos(state.hovered);
  mark.hidden = !p;
  if (!p) return;
  mark.querySelector(".cloud-label").textContent = state.data.words[state.hovered];
  mark.style.transform = `translate(${Math.round(p[0])}px, ${Math.round(p[1])}px)`;
}

// The query and its neighbours, lit over the canvas: a veil fades the cloud behind them (the same colours as
// drawing every other point at alpha 0.3 instead of 0.85, over white) and a dot marks each of them. Lighting
// them by recolouring 10,000 points made scatter-gl redraw the cloud, 35-60 ms of software WebGL per click.
// During a search the cloud's own colours already fade what does not match, so there is no veil.
function lightUp() {
  const dots = $("cloud-dots");
  dots.textContent = "";
  const lit = state.data ? [...state.lit, state.query].filter((i) => i >= 0) : [];
  $("cloud-veil").hidden = !lit.length || Boolean(state.matches);
  for (const i of lit) {
    const p = screenPos(i);
    if (!p) continue;
    const dot = el("span", i === state.query ? "cloud-dot query" : "cloud-dot");
    dot.dataset.word = state.data.words[i];
    dot.style.transform = `translate(${Math.round(p[0])}px, ${Math.round(p[1])}px)`;
    dots.append(dot);
  }
}

// Labels for the query, its neighbours and the first search matches; a label that would overlap one
// already placed is left out (its point stays lit), so labels never collide.
function layoutLabels() {
  const box = $("cloud-labels");
  box.textContent = "";
  placeHover();
  lightUp();
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
    // the picture's size as scatter-gl measured it (box.clientWidth would force a layout of the page here)
    const { width, height } = state.scatter.scatterPlot;
    if (r.x + w > width) r.x = p[0] - 6 - w; // keep it inside the picture
    if (r.x < 0 || r.y < 0 || r.y + h > height) continue;
    if (placed.some((b) => r.x < b.x + b.w && b.x < r.x + r.w && r.y < b.y + b.h && b.y < r.y + r.h)) continue;
    placed.push(r);
    shown.add(i);
    const span = el("span", i === state.query ? "cloud-label query" : state.lit.includes(i) ? "cloud-label neighbour" : "cloud-label match", word);
    span.style.transform = `translate(${Math.round(r.x)}px, ${Math.round(r.y)}px)`;
    box.append(span);
  }
}
