// Small helpers shared by the console's pages. Text from the server (and so
// from agents) only ever becomes text nodes or attribute values, never HTML.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const listeners = { unauthorized: [], mfaSetup: [] };
export function onUnauthorized(fn) { listeners.unauthorized.push(fn); }
// A signed-in session that now owes a second factor (its organisation has
// started requiring one): every call but setting it up answers 403 so.
export function onMfaSetupRequired(fn) { listeners.mfaSetup.push(fn); }

// Calls the JSON API; throws ApiError with the server's own message.
// `version`: the version the caller read (If-Match); a newer one on the
// server refuses the change with 412 and says so.
export async function api(path, { method = "GET", body, signal, version } = {}) {
  const init = { method, credentials: "same-origin", signal, headers: {} };
  if (version !== undefined) init.headers["if-match"] = `"${version}"`;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch("/api/v1" + path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "The server cannot be reached. Check the connection; the page retries on its own.");
  }
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && !data.mfa_required) {
    for (const fn of listeners.unauthorized) fn(data.error);
  }
  if (response.status === 403 && data.mfa_setup_required) {
    for (const fn of listeners.mfaSetup) fn(data.error);
  }
  if (!response.ok) throw new ApiError(response.status, data.error || `${response.status} ${response.statusText}`, data);
  return data;
}

// h("tr", {class: "x", onclick: fn}, "text", child, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = !!value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);

// Times from the API are Unix seconds or milliseconds; both are accepted.
const toMs = (t) => (t > 1e12 ? t : t * 1000);
export function ago(t) {
  if (!t) return "never";
  const d = Math.round((Date.now() - toMs(t)) / 1000);
  if (d < 0) return "just now";
  if (d < 60) return d + "s ago";
  if (d < 3600) return Math.floor(d / 60) + "m ago";
  if (d < 86400) return Math.floor(d / 3600) + "h ago";
  return Math.floor(d / 86400) + "d ago";
}
export function when(t) {
  if (!t) return "–";
  // With the zone: a technician and the devices may be in different ones.
  return new Date(toMs(t)).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}
export function timeTag(t) {
  return h("time", { datetime: t ? new Date(toMs(t)).toISOString() : null, title: when(t) }, ago(t));
}
export const pct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) + "%" : "–");
export function bytes(n) {
  if (typeof n !== "number") return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
export function duration(ms) {
  if (typeof ms !== "number") return "–";
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

export function pill(text, kind, title) {
  return h("span", { class: "pill " + (kind || text), title }, text);
}

// A bar behind a percentage (utilisation columns).
export function meter(v) {
  if (typeof v !== "number") return h("span", { class: "muted" }, "–");
  const level = v >= 0.9 ? "bad" : v >= 0.75 ? "warn" : "ok";
  const bar = h("span", { class: "meter " + level });
  bar.append(h("span", { class: "fill" }));
  bar.firstChild.style.width = Math.min(100, Math.max(0, v * 100)).toFixed(1) + "%";
  return h("span", { class: "meter-cell" }, bar, pct(v));
}

// columns: [{title, render(row) → node|string, sort?: key, class?}]
export function table(columns, rows, { onRow, sort, onSort, empty = "Nothing here yet.", rowClass } = {}) {
  columns = columns.filter(Boolean); // a column shown only sometimes is null otherwise
  const head = h("tr", {}, columns.map((c) => {
    if (!c.sort || !onSort) return h("th", { class: c.class }, c.title);
    const active = sort && sort.key === c.sort;
    const arrow = active ? (sort.desc ? " ▾" : " ▴") : "";
    return h("th", { class: (c.class || "") + " sortable", "aria-sort": active ? (sort.desc ? "descending" : "ascending") : null },
      h("button", { class: "link", onclick: () => onSort(c.sort) }, c.title + arrow));
  }));
  const body = h("tbody");
  for (const row of rows) {
    const tr = h("tr", { class: rowClass ? rowClass(row) : null }, columns.map((c) => {
      const value = c.render(row);
      return h("td", { class: c.class }, value);
    }));
    if (onRow) {
      tr.classList.add("clickable");
      tr.addEventListener("click", (event) => {
        if (event.target.closest("button, a, input, label, select")) return;
        onRow(row, event);
      });
    }
    body.append(tr);
  }
  if (!rows.length) body.append(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), body));
}

let toastBox;
export function toast(message, kind = "ok") {
  if (!toastBox) { toastBox = h("div", { id: "toasts", role: "status", "aria-live": "polite" }); document.body.append(toastBox); }
  const el = h("div", { class: "toast " + kind }, message);
  toastBox.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

// A modal dialog; resolves when closed. `content` is a node or a function
// (close) → node.
export function modal(title, content, { wide } = {}) {
  const dialog = h("dialog", { class: wide ? "wide" : null });
  const close = () => dialog.close();
  dialog.append(
    h("header", {}, h("h2", {}, title), h("button", { class: "icon", "aria-label": "Close", onclick: close }, "✕")),
    typeof content === "function" ? content(close) : content,
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => { dialog.remove(); resolve(); }));
}

// fields: [{name, label, type (text|password|number|select|textarea|checkbox),
// required, options: [[value, label]], value, placeholder, pattern, help,
// min, max}]. `submit(values)` may throw; its message is shown in the form.
export function form(fields, submit, { submitLabel = "Save", class: cls } = {}) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const el = h("form", { class: "form " + (cls || ""), novalidate: true },
    fields.map((f) => field(f)), error, h("div", { class: "form-actions" }, button));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    for (const input of el.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    if (!el.checkValidity()) {
      const bad = el.querySelector(":invalid");
      bad.setAttribute("aria-invalid", "true");
      const label = bad.closest("label")?.querySelector(".label")?.textContent || bad.name;
      error.textContent = `${label}: ${bad.validationMessage}`;
      error.hidden = false;
      bad.focus();
      return;
    }
    const values = {};
    for (const f of fields) {
      const input = el.elements[f.name];
      if (!input) continue;
      if (f.type === "checkbox") values[f.name] = input.checked;
      else if (f.type === "number") values[f.name] = input.value === "" ? undefined : Number(input.value);
      else values[f.name] = input.value.trim();
    }
    button.disabled = true;
    try {
      await submit(values, el);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function field(f) {
  const common = { name: f.name, required: f.required, placeholder: f.placeholder, pattern: f.pattern, min: f.min, max: f.max, autocomplete: f.autocomplete || "off" };
  let input;
  if (f.type === "select") {
    input = h("select", common, (f.options || []).map(([value, label]) => h("option", { value, selected: value === f.value }, label)));
  } else if (f.type === "textarea") {
    input = h("textarea", { ...common, rows: f.rows || 8, spellcheck: "false" });
    input.value = f.value || "";
  } else if (f.type === "checkbox") {
    input = h("input", { ...common, type: "checkbox", checked: f.value });
    return h("label", { class: "check" }, input, h("span", { class: "label" }, f.label));
  } else {
    input = h("input", { ...common, type: f.type || "text", value: f.value ?? null });
  }
  // Values to choose from while any other may be typed (existing sites).
  let choices = null;
  if (f.suggestions?.length) {
    const id = `choices-${f.name}-${Math.random().toString(36).slice(2, 8)}`;
    input.setAttribute("list", id);
    choices = h("datalist", { id }, [...new Set(f.suggestions)].map((value) => h("option", { value })));
  }
  return h("label", { class: "field" }, h("span", { class: "label" }, f.label + (f.required ? " *" : "")), input, choices,
    f.help ? h("small", { class: "help" }, f.help) : null);
}

export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "small" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      // No clipboard permission (plain http, old browser): select instead.
      const range = document.createRange();
      range.selectNodeContents(button.previousElementSibling || button);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => (button.textContent = label), 2500);
  });
  return button;
}

// A tiny SVG line of a series (the dashboard's 30-day trends).
export function sparkline(values, { title } = {}) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 100 24");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title || "trend");
  if (values.length > 1) {
    const max = Math.max(...values, 1);
    const points = values.map((v, i) => `${(i / (values.length - 1)) * 100},${22 - (v / max) * 20}`).join(" ");
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", points);
    svg.append(line);
  }
  return svg;
}

export function errorBox(error) {
  return h("div", { class: "error-box", role: "alert" }, error.message || String(error));
}

export function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

// "#/devices?status=online" → { parts: ["devices"], params }
export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return { parts: path ? path.split("/").map(decodeURIComponent) : [], params: new URLSearchParams(query || "") };
}

export function link(hash, text) {
  return h("a", { href: hash }, text);
}

// Polls `fn` every `ms` while the page is shown; returns a stop function.
export function every(ms, fn) {
  let stopped = false;
  let timer;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) { try { await fn(); } catch { /* shown by fn */ } }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => { stopped = true; clearTimeout(timer); };
}

export function wsUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1" + path;
}

export function confirmAction(message) {
  return window.confirm(message);
}

// Asks `question` (none: no question), makes the call, says `said` or the
// server's sentence, then `done()`.
export async function act(question, call, said, done) {
  if (question && !confirm(question)) return;
  try {
    await call();
    toast(said);
  } catch (e) {
    toast(e.message, "error");
  }
  done?.();
}

// Edit, Disable/Enable (when `offNote` is given) and Delete for one
// object at `path`, each confirmed where it takes something away; the
// server's sentence shows when it refuses.
export function lifecycleButtons(o, { edit, path, what, done, offNote, deleteNote = "" }) {
  const off = o.enabled === false;
  return h("div", { class: "row-actions" },
    edit ? h("button", { class: "small", dataset: { action: "edit" }, onclick: edit }, "Edit") : null,
    offNote === undefined ? null : h("button", { class: "small", dataset: { action: off ? "enable" : "disable" },
      onclick: () => act(off ? null : `Disable ${what}? ${offNote}`, () => api(path, { method: "PATCH", body: { enabled: off }, version: o.version }), `${off ? "Enabled" : "Disabled"} ${what}`, done) }, off ? "Enable" : "Disable"),
    h("button", { class: "small danger", dataset: { action: "delete" },
      onclick: () => act(`Delete ${what}? ${deleteNote}`.trim(), () => api(path, { method: "DELETE" }), `Deleted ${what}`, done) }, "Delete"));
}

// Where the signed-in user holds `permission` ({ whole_org, sites }), or
// null: what the console shows, hides or explains (the server decides).
export const holds = (me, permission) => me?.permissions?.[permission] || null;

// The sentence for a page or part the user may not use.
export function needsPermission(me, permission, what) {
  return h("p", { class: "notice", dataset: { needs: permission } },
    `${what} needs the ${permission} permission; ask an administrator of ${me?.org_name || "your organisation"}.`);
}
