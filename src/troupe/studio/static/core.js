// Shared helpers: the API (with the key from sessionStorage), SSE over fetch, DOM building.

export const API = document.body.dataset.api || "/v1";
export const SECURED = document.body.dataset.secured === "true";
const KEY = "troupe.studio.key";

export function key() { return sessionStorage.getItem(KEY) || ""; }
export function setKey(value) {
  if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
}

export function headers(extra = {}) {
  const out = { ...extra };
  if (key()) out["Authorization"] = `Bearer ${key()}`;
  return out;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
  }
}

// fetch JSON from the server (``path`` starting with /studio or the API's path).
export async function getJSON(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) {
    if (response.status === 401) notice(`${new ApiError(401, body).message} Enter your API key above.`);
    throw new ApiError(response.status, body);
  }
  return body;
}

export function postJSON(path, data) {
  return getJSON(path, {
    method: "POST",
    body: JSON.stringify(data),
    headers: { "Content-Type": "application/json" },
  });
}

// Server-sent events read from a fetch response: yields {id, data}.
export async function* sse(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { id, data: data.join("\n") };
    }
  }
}

// h("div#id.card", {title: "x", onclick: f}, child, "text", ...)
export function h(tag, attrs = {}, ...children) {
  const [head, ...classes] = tag.split(".");
  const [name, id] = head.split("#");
  const el = document.createElement(name || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function notice(text, kind = "error") {
  const el = document.getElementById("notice");
  if (!text) { el.hidden = true; return; }
  el.textContent = text;
  el.className = `notice ${kind}`;
  el.hidden = false;
}

export function ms(value) {
  if (value === null || value === undefined) return "";
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
}

export function money(value) {
  if (value === null || value === undefined) return "—";
  return value < 0.01 ? `$${value.toFixed(5)}` : `$${value.toFixed(4)}`;
}

export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

export function clock(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleDateString();
}

// A small coloured word naming a step's kind (no emoji: the page needs no emoji font).
export function tag(word) { return h(`span.tag.tag-${word}`, {}, word); }

export function pretty(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
  }
  return JSON.stringify(value, null, 2);
}
