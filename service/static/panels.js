// The model page (parameters, corpus, loss and words/s per epoch, evaluation) and the classifier box.
import { $, api, asApiError, el, enc, svgEl } from "./core.js";

const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString() : String(Number(v.toPrecision(4)))) : v === null || v === undefined ? "-" : Array.isArray(v) ? v.join(", ") : String(v));

function keyValues(table, entries) {
  const body = table.tBodies[0] || table.createTBody();
  body.textContent = "";
  entries.forEach(([k, v]) => {
    const tr = body.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = fmt(v);
  });
  table.hidden = !entries.length;
  table.parentElement.hidden = !entries.length; // no heading over an empty table (an imported model records little)
}

const CORPUS_KEYS = [["source", "source"], ["lines", "lines"], ["sentences", "sentences"], ["tokens", "tokens"], ["retained_tokens", "tokens kept (after subsampling)"], ["vocab_size", "vocabulary"], ["pruned_words", "words under min_count"]];

// Fill the model page from GET /v1/models/{model}/meta; returns the meta (its language drives placeholders).
export async function loadModelPage(name) {
  $("model-title").textContent = `About ${name}`;
  ["model-params", "model-corpus", "model-scores"].forEach((id) => ($(id).hidden = $(id).parentElement.hidden = true));
  $("model-curve").textContent = "";
  $("model-summary").textContent = "loading...";
  let meta;
  try {
    meta = await api(`models/${enc(name)}/meta`);
  } catch (err) {
    const e = asApiError(err);
    $("model-summary").textContent = `${e.code}: ${e.message}`;
    return null;
  }
  const t = meta.timings || {};
  const lang = meta.language === "zh" ? "Chinese" : "English";
  $("model-summary").textContent = `${meta.vocab_size.toLocaleString()} words, ${meta.dim} dimensions, ${lang}` + (meta.created ? `, trained ${meta.created}` : "") + (t.total_seconds ? ` in ${t.total_seconds.toFixed(1)} s` : "") + (t.words_per_sec ? ` (${Math.round(t.words_per_sec).toLocaleString()} words/s)` : "") + ".";
  keyValues($("model-params"), Object.entries(meta.params || {}));
  const corpus = meta.corpus || {};
  keyValues($("model-corpus"), CORPUS_KEYS.filter(([k]) => k in corpus).map(([k, name]) => [name, corpus[k]]));
  drawCurves($("model-curve"), meta.epochs || []);
  keyValues($("model-scores"), scoreRows(meta.evaluation || {}));
  return meta;
}

function scoreRows(evaluation) {
  const rows = [];
  (evaluation.analogies || []).forEach((a) => rows.push([`analogies: ${a.name}`, a.skipped ? `skipped (${a.skipped})` : `${(100 * a.accuracy).toFixed(1)}% of ${fmt(a.total)}`]));
  (evaluation.pairs || []).forEach((p) => rows.push([`word pairs: ${p.name}`, p.skipped ? `skipped (${p.skipped})` : `Spearman ${fmt(p.spearman)} (${fmt(p.pairs ?? p.total)} pairs)`]));
  return rows;
}

// Loss (left axis) and words/s (right axis) per epoch as two polylines.
function drawCurves(box, epochs) {
  if (!epochs.length) {
    box.append(el("p", "hint", "No per-epoch record in meta.json (an imported model)."));
    return;
  }
  const W = 520, H = 200, L = 56, R = 64, T = 14, B = 34;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "loss and words per second per epoch" });
  const xs = (i) => L + (epochs.length === 1 ? (W - L - R) / 2 : (i / (epochs.length - 1)) * (W - L - R));
  const series = [["loss", "loss", (v) => v.toPrecision(3)], ["words_per_sec", "speed", (v) => `${Math.round(v / 1000)}k/s`]];
  svg.append(svgEl("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "frame" }));
  series.forEach(([key, cls, tick], s) => {
    const vals = epochs.map((e) => e[key]).filter((v) => typeof v === "number");
    if (vals.length !== epochs.length) return;
    const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || Math.abs(hi) || 1;
    const ys = (v) => H - B - ((v - lo) / span) * (H - T - B);
    svg.append(svgEl("polyline", { points: vals.map((v, i) => `${xs(i)},${ys(v)}`).join(" "), class: `curve ${cls}` }));
    vals.forEach((v, i) => svg.append(svgEl("circle", { cx: xs(i), cy: ys(v), r: 3, class: `dot ${cls}` })));
    const x = s === 0 ? L - 6 : W - R + 6, anchor = s === 0 ? "end" : "start";
    [lo, hi].forEach((v) => svg.append(svgEl("text", { x, y: ys(v) + 4, "text-anchor": anchor, class: `tick ${cls}` }, tick(v))));
  });
  epochs.forEach((e, i) => svg.append(svgEl("text", { x: xs(i), y: H - B + 16, "text-anchor": "middle", class: "tick" }, String((e.epoch ?? i) + 1))));
  svg.append(svgEl("text", { x: (W - R + L) / 2, y: H - 4, "text-anchor": "middle", class: "tick" }, "epoch"));
  box.append(svg, el("p", "hint legend", "orange: loss per epoch (left axis); blue: words per second (right axis)"));
}

// ---- classifiers ------------------------------------------------------------------------------

export async function loadClassifiers() {
  const panel = $("classify-panel");
  let data;
  try {
    data = await api("classifiers");
  } catch (err) {
    panel.hidden = true; // the error (a missing key, say) shows where the page asked for models
    return;
  }
  const select = $("classifier");
  select.textContent = "";
  data.classifiers.forEach((c) => select.append(new Option(`${c.name} (${c.arch}, ${c.labels.length} labels)`, c.name)));
  panel.hidden = !data.classifiers.length;
  panel.dataset.labels = JSON.stringify(Object.fromEntries(data.classifiers.map((c) => [c.name, c.labels.length])));
}

// Each line of the box is one text; each gets every label's probability as a bar.
export async function classify() {
  const texts = $("classify-text").value.split("\n").map((t) => t.trim()).filter(Boolean);
  const out = $("classify-results");
  out.textContent = "";
  if (!texts.length) return;
  const name = $("classifier").value;
  const k = JSON.parse($("classify-panel").dataset.labels || "{}")[name] || 10;
  const data = await api(`classifiers/${enc(name)}/predict`, { texts, k, truncate: true });
  data.predictions.forEach((p, i) => {
    const item = el("div", "prediction");
    item.append(el("p", "text", texts[i]));
    p.labels.forEach((l) => {
      const row = el("div", "bar-row");
      const bar = el("span", "bar");
      bar.style.width = `${Math.max(0.5, 100 * l.probability)}%`;
      const track = el("span", "track");
      track.append(bar);
      row.append(el("span", "label", l.label), track, el("span", "prob", l.probability.toFixed(3)));
      item.append(row);
    });
    out.append(item);
  });
}
