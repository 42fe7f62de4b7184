// The embed explorer: vanilla JS modules talking to the JSON API under /v1 (no CDN, no build step).
// This module: models and the API key, neighbours (table + map), analogies (table + arrows), wiring.
import { $, api, ApiError, asApiError, clearError, enc, KEY_STORE, model, setParams, showError } from "./core.js";
import { clearNeighbours as unlightCloud, explorer, initCloud, loadCloud, showNeighbours } from "./cloud.js";
import { drawMap } from "./map.js";
import { classify, loadClassifiers, loadModelPage } from "./panels.js";

// Runs an async UI action, showing any API error on the page instead of failing silently.
async function guarded(action) {
  clearError();
  document.body.classList.add("busy");
  try {
    await action();
  } catch (err) {
    showError(asApiError(err), pickWord);
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

// ---- neighbours ------------------------------------------------------------------------------

// Hides the previous query's table, map and lit points, so that an error never sits above stale results.
function clearNeighbours() {
  $("neighbours").hidden = true;
  $("neighbours").tBodies[0].textContent = "";
  $("oov-note").hidden = true;
  $("scatter").textContent = "";
  unlightCloud();
}

let lastQuery = 0; // numbers the neighbour queries: an answer that arrives after a newer query was asked is dropped

// textContent only when it changes: every write is a DOM mutation, and a repaint of what is around it
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

async function findNeighbours() {
  const word = $("word").value.trim();
  if (!word) return;
  const query = ++lastQuery;
  // The URL says what was asked (a failed query's error shows again on reload). Set now, while the answer is on
  // its way: a new URL makes Chromium fetch and parse the favicon again (bench/explorer.py's trace, 2026-12-01).
  setParams({ model: model(), word });
  // The previous answer stays until this one replaces it (or an error clears it): hiding the table at the click
  // and showing it again with the answer moved everything below it twice, two layouts and repaints per click.
  const metric = $("metric").value;
  const k = Math.max(1, Math.min(100, parseInt($("k").value, 10) || 10));
  let data;
  try {
    data = await api(`models/${enc(model())}/similar`, { word, k, metric });
  } catch (err) {
    if (query !== lastQuery) return;
    clearNeighbours();
    throw err;
  }
  if (query !== lastQuery) return;
  const rows = data.results;
  // a subword model answers an unknown word from its character n-grams: say so
  $("oov-note").hidden = !data.oov;
  setText($("oov-note"), data.oov ? `"${word}" is not in the vocabulary: its vector is built from its character n-grams (oov)` : "");
  setText($("neighbours").querySelector(".score-head"), metric === "cosine" ? "cosine" : "distance");
  fillTable($("neighbours"), rows, pickWord);
  showNeighbours(word, rows.map((r) => r.word));
  const words = [word, ...rows.map((r) => r.word)];
  const vectors = await api(`models/${enc(model())}/vectors`, { words });
  if (query !== lastQuery) return;
  drawMap($("scatter"), words, vectors.vectors.map((v) => v.vector), { onPick: pickWord, label: `map of ${word} and its neighbours` });
  explorer.mapFor = word; // bench/explorer.py: this query's work is done
}

function pickWord(word) {
  $("word").value = word;
  guarded(findNeighbours);
}

// ---- analogy -----------------------------------------------------------------------------

async function solveAnalogy() {
  const [a, b, c] = ["analogy-a", "analogy-b", "analogy-c"].map((id) => $(id).value.trim() || $(id).placeholder);
  $("analogy-results").hidden = true;
  $("analogy-results").tBodies[0].textContent = "";
  $("analogy-map").textContent = "";
  const k = Math.max(1, Math.min(100, parseInt($("analogy-k").value, 10) || 5));
  const method = $("analogy-method").value;
  const data = await api(`models/${enc(model())}/analogy`, { a, b, c, k, method });
  $("analogy-results").querySelector(".score-head").textContent = method === "3cosmul" ? "3CosMul" : "cosine";
  fillTable($("analogy-results"), data.results, pickWord);
  const answers = data.results.slice(0, 5).map((r) => r.word);
  const words = [a, b, c, ...answers];
  const vectors = await api(`models/${enc(model())}/vectors`, { words });
  drawMap($("analogy-map"), words, vectors.vectors.map((v) => v.vector), {
    onPick: pickWord, label: `${a} is to ${b} as ${c} is to ${answers[0] || "?"}`,
    arrows: answers.length ? [[0, 1], [2, 3]] : [[0, 1]], roles: ["given", "given", "given", "answer"],
  });
}

// ---- language-aware placeholders -----------------------------------------------------------------

const EXAMPLES = {
  en: { word: "a word, e.g. king", analogy: ["man", "king", "woman"], axes: ["man", "woman", "king", "queen"], classify: "one text per line" },
  zh: { word: "一个词，例如 曹操", analogy: ["刘备", "蜀", "曹操"], axes: ["刘备", "曹操", "关羽", "张飞"], classify: "每行一段文字" },
};

function setLanguage(lang) {
  const ex = EXAMPLES[lang] || EXAMPLES.en;
  document.documentElement.lang = lang === "zh" ? "zh" : "en";
  $("word").placeholder = ex.word;
  ["analogy-a", "analogy-b", "analogy-c"].forEach((id, i) => ($(id).placeholder = ex.analogy[i]));
  ["axis-x-start", "axis-x-end", "axis-y-start", "axis-y-end"].forEach((id, i) => ($(id).placeholder = ex.axes[i]));
  $("classify-text").placeholder = ex.classify;
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

// A model was chosen (or the page opened): its page, placeholders and cloud; the old query's results go.
function modelChanged() {
  lastPrefix = null;
  $("vocab").textContent = "";
  clearNeighbours();
  $("analogy-results").hidden = true;
  $("analogy-map").textContent = "";
  loadCloud();
  loadModelPage(model()).then((meta) => setLanguage(meta ? meta.language : "en"));
}

function init() {
  const params = new URLSearchParams(location.search);
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  if (["tsne", "umap", "pca", "custom"].includes(params.get("method"))) $("cloud-method").value = params.get("method");
  if (params.get("dims") === "3") $("cloud-dims").value = "3";
  initCloud(pickWord);
  $("api-key").addEventListener("change", () => {
    localStorage.setItem(KEY_STORE, $("api-key").value.trim());
    guarded(async () => {
      await loadModels(model());
      modelChanged();
      await loadClassifiers();
    });
  });
  $("model").addEventListener("change", () => {
    setParams({ model: model(), word: null });
    modelChanged();
  });
  const submit = (id, action) => $(id).addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(action);
  });
  submit("neighbours-form", findNeighbours);
  submit("analogy-form", solveAnalogy);
  submit("classify-form", classify);
  ["word", "analogy-a", "analogy-b", "analogy-c", "axis-x-start", "axis-x-end", "axis-y-start", "axis-y-end"].forEach((id) => $(id).addEventListener("input", scheduleComplete));
  guarded(async () => {
    try {
      await loadModels(params.get("model"));
      modelChanged();
      loadClassifiers();
      if (params.get("word")) {
        $("word").value = params.get("word");
        await findNeighbours();
      }
    } finally {
      document.body.dataset.ready = "1"; // tests and scripts wait for this
    }
  });
}

init(); // a module runs after the document is parsed
