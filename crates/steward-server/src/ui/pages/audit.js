// The audit log: each entry as a sentence ("alice uploaded /etc/app.conf
// (12 KiB) to web-01"), its details on demand; filtered by who, what,
// which object and when (kept in the address, so a filtered view can be
// shared), newest first, in pages.
import { api, h, table, when, bytes, form, parseHash } from "../lib.js";

// What the API's collection names are, as nouns.
const NOUNS = {
  monitors: "monitor", channels: "notification channel", maintenance: "maintenance window", silences: "silence",
  scripts: "script", schedules: "schedule", jobs: "job", users: "user", roles: "role", orgs: "organisation",
  "enroll-tokens": "enrollment token", tokens: "API token", devices: "device", alerts: "alert",
};

const parse = (text) => { try { return JSON.parse(text); } catch { return {}; } };
const quote = (name) => (name ? ` ${name}` : "");

// The name of what an entry is about, from what the server recorded.
function objectName(d) {
  const of = (o) => (o && typeof o === "object" ? o.name || o.username : null);
  return d.object_name || of(d.after) || of(d.before) || of(d.request) || d.device || null;
}

// The fields a change touched ("name, spec"), from its before and after.
function changedFields(d) {
  if (!d.before || !d.after || typeof d.before !== "object" || typeof d.after !== "object") return [];
  const keys = new Set([...Object.keys(d.before), ...Object.keys(d.after)]);
  return [...keys].filter((k) => JSON.stringify(d.before[k]) !== JSON.stringify(d.after[k]));
}

// An API call ("PATCH /api/v1/monitors/{id}") as what the person did.
function apiSentence(who, method, path, d, target) {
  const parts = path.replace(/^\/api\/v1\//, "").split("/");
  const noun = NOUNS[parts[0]] || parts[0];
  const name = objectName(d);
  const last = parts[parts.length - 1];
  const device = name || "a device";
  if (parts[0] === "devices" && last === "put") {
    const size = d.request?.content_b64?.bytes;
    return `${who} uploaded ${d.request?.path || "a file"}${typeof size === "number" ? ` (${bytes(size)})` : ""} to ${device}`;
  }
  if (parts[0] === "devices" && last === "get") return `${who} downloaded ${d.request?.path || "a file"} from ${device}`;
  if (parts[0] === "jobs" && parts.length === 1) {
    const what = d.request?.script || d.request?.action || "a job";
    return `${who} started ${what === "a job" ? what : `a job running ${what}`}`;
  }
  if (parts[0] === "users" && last === "grants") return `${who} granted ${d.request?.role || "a role"}${d.request?.site ? ` at site ${d.request.site}` : ""} to${quote(name) || " a user"}${d.request?.deny ? " (as a deny)" : ""}`;
  if (parts[0] === "users" && parts[2] === "grants") return `${who} revoked a grant of${quote(name) || " a user"}`;
  if (parts[0] === "orgs" && parts[2] === "sites") {
    const also = d.after?.definitions?.length ? `, also in ${d.after.definitions.join(", ")}` : "";
    return `${who} renamed the site ${d.before?.site || "?"} to ${d.after?.site || "?"}${also}`;
  }
  if (parts[0] === "me" && last === "password") return `${who} changed their password`;
  if (parts[0] === "users" && parts.length === 2 && d.after?.sign_in === "reset") return `${who} reset the password of${quote(name) || " a user"}`;
  if (parts[0] === "orgs" && last === "require-totp") return `${who} ${d.request?.require ? "required" : "stopped requiring"} two-factor sign-in`;
  if (parts[0] === "alerts") return `${who} ${last === "acknowledge" ? "acknowledged" : "resolved"} an alert`;
  if (parts[0] === "login" || parts[0] === "logout") return `${who} signed ${parts[0] === "login" ? "in" : "out"}`;
  if (parts[0] === "me") return `${who} ${last === "enable" ? "turned on" : "began setting up"} two-factor sign-in`;
  const verbs = { delete: "deleted", revoke: "revoked", approve: "approved", cancel: "cancelled", rotate: "rotated the certificate of", upstream: "set the upstream of", test: "tested" };
  const article = /^[aeiou]/i.test(noun) ? "an" : "a";
  const site = d.request?.site && parts[0] === "enroll-tokens" ? ` for site ${d.request.site}` : "";
  const nounName = name ? `the ${noun} ${name}` : `${article} ${noun}${site}`;
  if (verbs[last] && parts.length > 2) return `${who} ${verbs[last]} ${nounName}`;
  if (method === "DELETE") return `${who} deleted ${nounName}`;
  if (method === "PATCH") {
    const fields = changedFields(d);
    return `${who} changed ${nounName}${fields.length ? ` (${fields.join(", ")})` : ""}`;
  }
  if (method === "POST" && parts.length === 1) return `${who} created ${nounName}`;
  return `${who} called ${method} ${target}`;
}

// One audit entry as a sentence. Pure: the entry as the API answers it.
export function sentence(e) {
  const d = parse(e.detail);
  const who = e.actor || "someone";
  const name = objectName(d);
  switch (e.action) {
    case "login": return `${who} signed in${d.second_factor ? " with a second factor" : ""}`;
    case "login.failed": return `A sign-in as ${who} failed${d.reason ? ` (${d.reason})` : ""}`;
    case "shell.opened": return `${who} opened a remote shell on ${name || e.target}`;
    case "shell.closed": {
      const minutes = typeof d.seconds === "number" ? (d.seconds < 120 ? `${d.seconds} s` : `${Math.round(d.seconds / 60)} min`) : null;
      return `${who}'s remote shell on ${name || e.target} closed${minutes ? ` after ${minutes}` : ""}${d.reason ? ` (${d.reason})` : ""}: ${bytes(d.bytes_in ?? 0)} typed, ${bytes(d.bytes_out ?? 0)} shown`;
    }
    case "devices.tagged": {
      const changes = [...(d.add || []).map((t) => "+" + t), ...(d.remove || []).map((t) => "−" + t)].join(" ");
      return `${who} tagged ${e.target}${changes ? ` (${changes})` : ""}`;
    }
    case "channel.tested": return `${who} sent a test through the channel ${e.target}: ${d.delivered ? "delivered" : "not delivered"}`;
    case "device.enrolled": return `The device ${d.name || e.target} enrolled${d.hostname && d.hostname !== d.name ? ` (host ${d.hostname})` : ""}`;
    case "device.credential.issued": return `The device ${e.target} was issued a new certificate`;
    case "device.credential.activated": return `The device ${e.target} started using its new certificate`;
    case "remediation.run": return `A remediation ran as ${who} for ${e.target}`;
    case "schedule.run": return `The schedule ${e.target} ran as ${who}`;
    case "schedule.refused": return `The schedule ${e.target} was refused for ${who}`;
  }
  const call = /^(GET|POST|PUT|PATCH|DELETE) (\/\S*)$/.exec(e.action);
  if (call) {
    const said = apiSentence(who, call[1], call[2], d, e.target);
    const status = d.status;
    return typeof status === "number" && status >= 400 ? `${said}: refused (${status}), nothing changed` : said;
  }
  return `${who}: ${e.action}${e.target ? ` (${e.target})` : ""}`;
}

// The filters as the form and the address hold them.
const FILTERS = ["actor", "action", "object", "since", "until"];

// "2025-06-01T08:00" (a datetime-local, local time) → Unix ms for the API.
const toApiTime = (local) => (local ? String(new Date(local).getTime()) : "");

export async function render(root) {
  const { params } = parseHash();
  const current = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || ""]));
  root.append(h("h1", {}, "Audit log"),
    h("p", { class: "muted" }, "Every change, sign-in, file transfer and remote session, newest first. Remote shells are kept as who opened them on which device, when and why they closed, and how many bytes went each way; what was typed or shown is not kept. The log is hash-chained: an edit breaks the chain (steward audit verify)."));
  const filters = form([
    { name: "actor", label: "Who (username)", value: current.actor, placeholder: "alice" },
    { name: "action", label: "What", value: current.action, placeholder: "shell, login, monitors" },
    { name: "object", label: "Object", value: current.object, placeholder: "web-01, /etc/app.conf" },
    { name: "since", label: "From", type: "datetime-local", value: current.since },
    { name: "until", label: "Until", type: "datetime-local", value: current.until },
  ], async (v) => {
    const query = new URLSearchParams(FILTERS.filter((k) => v[k]).map((k) => [k, v[k]]));
    const next = "#/audit" + (query.size ? "?" + query : "");
    if (location.hash === next) await start(); else location.hash = next;
  }, { submitLabel: "Filter", class: "inline" });
  filters.id = "audit-filter";
  const clear = h("button", { type: "button", class: "small", hidden: !FILTERS.some((k) => current[k]), onclick: () => { location.hash = "#/audit"; } }, "Clear filters");
  filters.querySelector(".form-actions").append(clear);
  const box = h("div", { id: "audit-log" });
  const more = h("button", { class: "small" }, "Older entries");
  root.append(filters, box, h("div", { class: "pager" }, more));
  let entries = [];
  const query = new URLSearchParams();
  for (const k of ["actor", "action", "object"]) if (current[k]) query.set(k, current[k]);
  for (const k of ["since", "until"]) if (current[k]) query.set(k, toApiTime(current[k]));
  const filtered = [...query.keys()].length > 0;
  const load = async (before) => {
    query.set("before", before);
    query.set("limit", "200");
    const page = await api(`/audit?${query}`);
    entries = entries.concat(page);
    more.hidden = page.length < 200;
    box.replaceChildren(table([
      { title: "When", render: (e) => when(e.at) },
      { title: "What happened", render: (e) => h("div", { class: "audit-entry", dataset: { action: e.action } },
        h("div", { class: "sentence" }, sentence(e)),
        h("details", {}, h("summary", {}, e.action), h("pre", {}, JSON.stringify({ target: e.target, ...parse(e.detail) }, null, 2)))) },
      { title: "From", render: (e) => e.source },
    ], entries, { empty: filtered ? "Nothing recorded matches these filters." : "Nothing recorded yet." }));
    const cols = h("colgroup", {}, h("col", { class: "when" }), h("col"), h("col", { class: "from" }));
    box.querySelector("table").prepend(cols);
  };
  const start = async () => { entries = []; await load(Number.MAX_SAFE_INTEGER); };
  more.addEventListener("click", () => load(entries.length ? entries[entries.length - 1].id : Number.MAX_SAFE_INTEGER));
  await start();
}
