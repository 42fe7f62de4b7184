// Shared by the page's modules: the /v1 client, the error box, small DOM helpers. No CDN, no build step.

const KEY_HEADER = "X-API-Key";
export const KEY_STORE = "embed.apiKey";
export const $ = (id) => document.getElementById(id);
export const enc = encodeURIComponent;
export const model = () => $("model").value;

export class ApiError extends Error {
  constructor(code, message, status, suggestions) {
    super(message);
    this.code = code;
    this.status = status;
    this.suggestions = suggestions || []; // "did you mean" words of a word_not_found error
  }
}

// fetch a /v1 path relative to the page; throws ApiError with the API's own code and message.
export async function api(path, body) {
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

// The error box; `onSuggestion(word)` runs when a "did you mean" word is clicked.
export function showError(err, onSuggestion) {
  const box = $("error");
  box.textContent = "";
  const code = document.createElement("strong");
  code.textContent = err.code || "error";
  box.append(code, " " + err.message);
  if (err.suggestions && err.suggestions.length && onSuggestion) {
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
        onSuggestion(w);
      });
      p.append(i ? ", " : "", a);
    });
    box.append(p);
  }
  box.hidden = false;
}

export function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

export const asApiError = (err) => (err instanceof ApiError ? err : new ApiError("client", String(err.message || err), 0));

// An element with a class and text: el("td", "num", "3").
export function el(name, className, text) {
  const e = document.createElement(name);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG_NS, name);
  Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// Replace the URL's query parameters in place (a bookmark of what is shown); null removes one.
export function setParams(changes) {
  const params = new URLSearchParams(location.search);
  Object.entries(changes).forEach(([k, v]) => (v === null || v === undefined || v === "" ? params.delete(k) : params.set(k, v)));
  const q = params.toString();
  history.replaceState(null, "", q ? `?${q}` : location.pathname);
}
