// Monitors, notification channels (with "send test"), enrollment tokens
// (with the install command), users and API tokens. Someone who manages
// monitoring at some sites only reads the organisation-wide monitors and
// channels (they apply to their devices too), marked read-only.
import { api, h, table, pill, timeTag, when, toast, modal, form, copyButton, lifecycleButtons, act, holds, needsPermission, bytes } from "../lib.js";

const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);

// --- monitors --------------------------------------------------------------

// A site-limited user's line above a list: what they see and who edits it.
function scopeNote(ctx, what) {
  const held = holds(ctx.me, "monitors.manage");
  if (!held || held.whole_org) return null;
  const sites = held.sites.length ? `site${held.sites.length > 1 ? "s" : ""} ${held.sites.join(", ")}` : "some sites";
  return h("p", { class: "notice", id: "scope-note" },
    `You manage monitoring at ${sites} only. ${what} set for the whole organisation ${ctx.me.org_name} apply to your devices and are shown read-only; changing them or adding one needs monitors.manage for all of ${ctx.me.org_name} (ask one of its administrators).`);
}

// A read-only row's mark, with the server's reason as its tooltip.
const readOnly = (o) => pill("read-only", "read-only muted", o.note);

export async function monitors(root, _parts, _params, ctx) {
  const note = scopeNote(ctx, "Monitors");
  root.append(h("div", { class: "head" }, h("h1", {}, "Monitors"), note ? null : h("button", { class: "primary", onclick: () => create() }, "New monitor")), note);
  const box = h("div");
  root.append(box);
  const draw = async () => {
    const all = await api("/monitors");
    box.replaceChildren(table([
      { title: "Name", render: (m) => m.name },
      { title: "Kind", render: (m) => m.definition.spec?.kind || "?" },
      { title: "Watches", class: "wrap", render: (m) => describeSpec(m.definition.spec || {}) },
      { title: "Applies to", render: (m) => matcher(m.definition.applies_to) },
      { title: "Self-healing", render: (m) => (m.definition.remediation ? `runs ${m.definition.remediation.script}` : "–") },
      { title: "", render: (m) => (m.editable === false ? readOnly(m) : lifecycleButtons(m, { edit: () => edit(m), path: `/monitors/${m.id}`, what: `the monitor ${m.name}`, done: draw,
        offNote: "Its open alerts are resolved and it raises none until enabled.", deleteNote: "Its open alerts are resolved; their history stays." })) },
    ], all, { empty: note ? "No monitor applies to your sites yet." : "No monitors.", rowClass: (m) => (m.enabled === false ? "disabled" : null) }));
  };
  const create = () => modal("New monitor", (close) => monitorForm(async (body) => {
    const saved = await api("/monitors", { method: "POST", body });
    toast(saved.warning ? `Saved ${body.name}; ${saved.warning}` : "Saved " + body.name, saved.warning ? "error" : "ok");
    close();
    draw();
  }), { wide: true });
  // The form filled from the monitor; what the form has no field for
  // (devices named one by one, a remediation's settings) is kept.
  const edit = (m) => modal(`Edit ${m.name}`, (close) => monitorForm(async (body) => {
    const kept = m.fields || {};
    if (kept.applies_to?.devices?.length) body.applies_to.devices = kept.applies_to.devices;
    if (body.remediation && kept.remediation?.script === body.remediation.script) body.remediation = kept.remediation;
    if (!body.remediation) body.remediation = null;
    const saved = await api(`/monitors/${m.id}`, { method: "PATCH", body, version: m.version });
    toast(saved.warning ? `Saved ${body.name}; ${saved.warning}` : "Saved " + body.name, saved.warning ? "error" : "ok");
    close();
    draw();
  }, m), { wide: true });
  await draw();
}

// The metrics agents report, offered as suggestions (any name is allowed).
const METRICS = ["system.cpu.utilization", "system.memory.utilization", "system.filesystem.utilization", "system.paging.utilization",
  "system.cpu.load_average.5m", "system.cpu.load_average.15m", "system.processes.count", "system.uptime", "system.network.io"];
// Which fields each kind uses; "json" is the raw definition.
const KIND_FIELDS = {
  threshold: ["metric", "labels", "direction", "warning", "warning_clear", "critical", "critical_clear", "for_minutes"],
  forecast: ["metric", "labels", "capacity", "horizon_days", "window_hours"],
  anomaly: ["metric", "labels", "min_score", "for_minutes"],
  offline: [],
  check: ["check"],
  log_pattern: ["rule", "min_devices", "window_minutes", "surge"],
  json: ["spec"],
};

// The monitor form: a kind, then the fields of that kind (levels in % for
// the `.utilization` ratios); "Advanced" takes the definition as JSON.
// `submit(body)` saves it; its errors show in the form.
function monitorForm(submit, existing) {
  const f = form([
    { name: "name", label: "Name", required: true, placeholder: "Disk almost full" },
    { name: "kind", label: "Kind", type: "select", value: "threshold", options: [["threshold", "Threshold: a metric beyond a level for a while"], ["forecast", "Forecast: a metric heading for its capacity"], ["anomaly", "Anomaly: a metric unlike its own history"], ["offline", "Offline: the device stopped reporting"], ["check", "Check: a local script check fails"], ["log_pattern", "Log pattern: a new log template spreading, or a known one surging"], ["json", "Advanced: the definition as JSON"]] },
    { name: "metric", label: "Metric", value: "system.filesystem.utilization", help: "Ratios (…utilization) take their levels in %" },
    { name: "labels", label: "Only these series", placeholder: "mountpoint=/", help: "Comma-separated name=value; empty: every series of the metric" },
    { name: "direction", label: "Alert when the value is", type: "select", value: "above", options: [["above", "above the level"], ["below", "below the level"]] },
    { name: "warning", label: "Warning level", type: "number", value: 85, help: "Empty: no warning" },
    { name: "warning_clear", label: "Warning clears at", type: "number", value: 80, help: "Empty: at the level itself" },
    { name: "critical", label: "Critical level", type: "number", value: 95, help: "Empty: no critical" },
    { name: "critical_clear", label: "Critical clears at", type: "number", value: 90 },
    { name: "for_minutes", label: "For at least (minutes)", type: "number", value: 5, min: 0 },
    { name: "capacity", label: "Capacity", type: "number", value: 100, help: "The level it must not reach (in % for ratios)" },
    { name: "horizon_days", label: "Warn this many days ahead", type: "number", value: 7, min: 0 },
    { name: "window_hours", label: "Trend over the last (hours)", type: "number", value: 24, min: 1 },
    { name: "min_score", label: "Anomaly score at least", type: "number", value: 0.5, min: 0, max: 1, help: "0.5: one in 100,000; 1: as rare as it gets" },
    { name: "check", label: "Check name", placeholder: "disk", help: "As given to the agent's --check NAME=COMMAND" },
    { name: "rule", label: "Log rule", placeholder: "errors", help: "As given to the agent's --log-match NAME=FILE=PATTERN; empty: every rule" },
    { name: "min_devices", label: "New pattern on at least (devices)", type: "number", value: 3, min: 1 },
    { name: "window_minutes", label: "Within (minutes)", type: "number", value: 60, min: 1, help: "Also the window a surge is counted in" },
    { name: "surge", label: "Surge factor", type: "number", min: 1, help: "Also alert when a known template's lines in a window reach this many times its usual count (and at least 10); empty: new patterns only" },
    { name: "spec", label: "Definition (JSON)", type: "textarea", rows: 10, value: JSON.stringify({ kind: "offline" }, null, 2) },
    { name: "tags", label: "Only devices with these tags", help: "Comma-separated; empty: any tag" },
    { name: "sites", label: "Only these sites", help: "Comma-separated; empty: every site" },
    { name: "os", label: "Only these operating systems", placeholder: "debian, ubuntu", help: "Comma-separated prefixes; empty: any OS" },
    { name: "remediation", label: "Self-healing script (optional)", help: "A script of the library, run on the device before anyone is paged" },
  ], (v) => submit(monitorBody(v)));
  for (const input of f.querySelectorAll("input[type=number]")) input.step = "any";
  f.elements.metric.setAttribute("list", "metric-names");
  f.append(h("datalist", { id: "metric-names" }, METRICS.map((m) => h("option", { value: m }))));
  const show = () => {
    const wanted = KIND_FIELDS[f.elements.kind.value];
    for (const name of new Set(Object.values(KIND_FIELDS).flat())) f.elements[name].closest("label").hidden = !wanted.includes(name);
  };
  f.elements.kind.addEventListener("change", show);
  if (existing) fill(f, existing);
  show();
  return f;
}

// The form's fields from a stored monitor (levels of ratios back in %).
function fill(f, m) {
  const s = m.definition.spec || {};
  const ratio = s.metric?.endsWith(".utilization") ? 100 : 1;
  const set = (name, value) => { f.elements[name].value = value ?? ""; };
  const level = (x) => (x === undefined || x === null ? "" : Math.round(x * ratio * 1e9) / 1e9);
  const t = s.threshold || {};
  set("name", m.name);
  set("kind", ["threshold", "forecast", "anomaly", "offline", "check", "log_pattern"].includes(s.kind) ? s.kind : "json");
  set("metric", s.metric);
  set("labels", Object.entries(s.labels || {}).map(([k, v]) => `${k}=${v}`).join(", "));
  set("direction", t.direction || "above");
  set("warning", level(t.warning?.trigger));
  set("warning_clear", level(t.warning?.clear));
  set("critical", level(t.critical?.trigger));
  set("critical_clear", level(t.critical?.clear));
  set("for_minutes", (t.for_ms ?? s.for_ms ?? 0) / 60000);
  set("min_score", s.min_score ?? 0.5);
  set("capacity", level(s.capacity));
  set("horizon_days", (s.horizon_ms || 604800000) / 86400000);
  set("window_hours", (s.window_ms || 86400000) / 3600000);
  set("check", s.check);
  set("rule", s.rule);
  set("min_devices", s.min_devices ?? 3);
  set("window_minutes", (s.window_ms || 3600000) / 60000);
  set("surge", s.surge);
  set("spec", JSON.stringify(s, null, 2));
  const a = m.definition.applies_to || {};
  set("tags", (a.tags || []).join(", "));
  set("sites", (a.sites || []).join(", "));
  set("os", (a.os || []).join(", "));
  set("remediation", m.definition.remediation?.script);
}

// The API body from the form's values; throws with the field's name when
// a value is missing or wrong.
function monitorBody(v) {
  const ratio = v.metric.endsWith(".utilization") ? 0.01 : 1;
  const scaled = (x) => Math.round(x * ratio * 1e9) / 1e9;
  const level = (trigger, clear) => (trigger === undefined ? null : { trigger: scaled(trigger), clear: clear === undefined ? null : scaled(clear) });
  const labels = {};
  for (const pair of list(v.labels)) {
    const [name, ...rest] = pair.split("=");
    if (!name || !rest.length) throw new Error(`Only these series: "${pair}" is not name=value`);
    labels[name.trim()] = rest.join("=").trim();
  }
  const needMetric = () => { if (!v.metric) throw new Error("Metric: required"); };
  let spec;
  switch (v.kind) {
    case "threshold":
      needMetric();
      if (v.warning === undefined && v.critical === undefined) throw new Error("Set a warning or a critical level");
      spec = { kind: "threshold", metric: v.metric, labels, threshold: { direction: v.direction, warning: level(v.warning, v.warning_clear), critical: level(v.critical, v.critical_clear), for_ms: Math.round((v.for_minutes || 0) * 60000) } };
      break;
    case "forecast":
      needMetric();
      if (v.capacity === undefined) throw new Error("Capacity: required");
      spec = { kind: "forecast", metric: v.metric, labels, capacity: scaled(v.capacity), horizon_ms: Math.round((v.horizon_days ?? 7) * 86400000), window_ms: Math.round((v.window_hours ?? 24) * 3600000) };
      break;
    case "anomaly":
      needMetric();
      spec = { kind: "anomaly", metric: v.metric, labels, min_score: v.min_score ?? 0.5, for_ms: Math.round((v.for_minutes || 0) * 60000) };
      break;
    case "check":
      if (!v.check) throw new Error("Check name: required");
      spec = { kind: "check", check: v.check };
      break;
    case "log_pattern":
      if (v.surge !== undefined && !(v.surge >= 1)) throw new Error("Surge factor: 1 or more");
      spec = { kind: "log_pattern", min_devices: Math.max(1, Math.round(v.min_devices ?? 3)), window_ms: Math.round((v.window_minutes ?? 60) * 60000) };
      if (v.rule) spec.rule = v.rule;
      if (v.surge !== undefined) spec.surge = v.surge;
      break;
    case "json":
      try { spec = JSON.parse(v.spec); } catch (e) { throw new Error("Definition: not valid JSON (" + e.message + ")"); }
      break;
    default:
      spec = { kind: "offline" };
  }
  const body = { name: v.name, spec, applies_to: { tags: list(v.tags), sites: list(v.sites), os: list(v.os) } };
  if (v.remediation) body.remediation = { script: v.remediation };
  return body;
}

function describeSpec(s) {
  const value = (x) => (s.metric?.endsWith(".utilization") ? `${Math.round(x * 1000) / 10} %` : String(x));
  const sign = s.threshold?.direction === "below" ? "≤" : "≥";
  const levels = (t) => [t?.warning ? `warning ${sign} ${value(t.warning.trigger)}` : null, t?.critical ? `critical ${sign} ${value(t.critical.trigger)}` : null].filter(Boolean).join(", ");
  const series = Object.entries(s.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  const metric = series ? `${s.metric} {${series}}` : s.metric;
  switch (s.kind) {
    case "threshold": return `${metric}: ${levels(s.threshold)} for ${Math.round((s.threshold?.for_ms || 0) / 60000)} min`;
    case "forecast": return `${metric} reaching ${value(s.capacity)} within ${Math.round(s.horizon_ms / 86400000 * 10) / 10} days`;
    case "anomaly": return `${metric} anomalous (score ≥ ${s.min_score ?? 0.5}) for ${Math.round((s.for_ms || 0) / 60000)} min`;
    case "log_pattern": return `a new log pattern${s.rule ? ` of rule ${s.rule}` : ""} on ${s.min_devices ?? 3} devices within ${Math.round((s.window_ms ?? 3600000) / 60000)} min` + (s.surge ? `, or a known one surging to ${s.surge}× its usual count` : "");
    case "offline": return "device offline";
    case "check": return `check ${s.check}`;
    default: return JSON.stringify(s);
  }
}

const matcher = (m) => {
  if (!m) return "all devices";
  const parts = [...(m.tags || []).map((t) => "tag " + t), ...(m.sites || []).map((s) => "site " + s), ...(m.os || []).map((o) => "os " + o), ...(m.devices || []).map((d) => "device " + d.slice(0, 8))];
  return parts.join(", ") || "all devices";
};

// --- channels --------------------------------------------------------------

export async function channels(root, _parts, _params, ctx) {
  const note = scopeNote(ctx, "Channels");
  root.append(h("div", { class: "head" }, h("h1", {}, "Notification channels"), note ? null : h("button", { class: "primary", onclick: () => create() }, "New channel")), note);
  const box = h("div");
  root.append(box);
  const draw = async () => {
    const all = await api("/channels");
    box.replaceChildren(table([
      { title: "Name", render: (c) => c.name },
      { title: "Kind", render: (c) => c.kind },
      { title: "From severity", render: (c) => c.min_severity },
      { title: "Waiting", class: "num", render: (c) => String(c.pending) },
      { title: "Given up", class: "num", render: (c) => (c.undelivered ? h("span", { class: "pill failed", title: "Notifications that kept failing for a day and were not delivered (since the channel last delivered one)" }, String(c.undelivered)) : "0") },
      { title: "Last error", class: "wrap", render: (c) => (c.last_error ? h("span", { class: "pill failed" }, c.last_error) : "–") },
      { title: "", render: (c) => (c.editable === false ? null : h("button", { class: "small", dataset: { test: c.name }, onclick: (e) => test(c, e.target) }, "Send test")) },
      { title: "", render: (c) => (c.editable === false ? readOnly(c) : lifecycleButtons(c, { edit: () => edit(c), path: `/channels/${c.id}`, what: `the channel ${c.name}`, done: draw,
        offNote: "Nothing is sent through it until it is enabled; notifications wait.", deleteNote: c.pending ? `Its ${c.pending} waiting notifications are dropped.` : "" })) },
    ], all, { empty: note ? `No channels in ${ctx.me.org_name}: alerts are recorded but nobody is told.` : "No channels: alerts are recorded but nobody is told.", rowClass: (c) => (c.enabled === false ? "disabled" : null) }));
  };
  const test = async (c, button) => {
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const result = await api(`/channels/${c.id}/test`, { method: "POST", body: {} });
      if (result.delivered) toast(`Test message delivered through ${c.name}`);
      else toast(`${c.name} did not take the test message: ${result.error}`, "error");
    } catch (e) { toast(e.message, "error"); }
    button.disabled = false;
    button.textContent = "Send test";
  };
  const create = () => modal("New notification channel", (close) => channelForm(async (body) => {
    await api("/channels", { method: "POST", body });
    toast("Saved " + body.name);
    close();
    draw();
  }), { wide: true });
  // Secrets are never shown: left empty, the stored ones stay.
  const edit = (c) => modal(`Edit ${c.name}`, (close) => channelForm(async (body) => {
    await api(`/channels/${c.id}`, { method: "PATCH", body, version: c.version });
    toast("Saved " + body.name);
    close();
    draw();
  }, c), { wide: true });
  await draw();
}

// The channel form (filled from `existing` when editing); `submit(body)`.
function channelForm(submit, existing) {
  const c = existing?.fields || {};
  const keep = existing ? "Leave empty to keep the current one" : undefined;
  const f = form([
    { name: "name", label: "Name", required: true, value: c.name },
    { name: "kind", label: "Kind", type: "select", value: c.kind || "webhook", options: [["webhook", "Webhook (signed JSON)"], ["slack", "Slack incoming webhook"], ["teams", "Microsoft Teams incoming webhook"], ["email", "Email (SMTP)"]] },
    { name: "url", label: "URL", type: "url", placeholder: "https://…", value: c.url },
    { name: "secret", label: "Signing secret (webhook)", type: "password", pattern: ".{16,}", help: (keep ? keep + "; a" : "A") + "t least 16 characters; the receiver checks X-Steward-Signature with it" },
    { name: "smtp_host", label: "SMTP host (email)", value: c.smtp_host },
    { name: "smtp_port", label: "SMTP port", type: "number", min: 1, max: 65535, value: c.smtp_port },
    { name: "from", label: "From (email)", value: c.from },
    { name: "to", label: "To (email, comma-separated)", value: (c.to || []).join(", ") },
    { name: "username", label: "SMTP username", value: c.username },
    { name: "password", label: "SMTP password", type: "password", help: keep },
    { name: "min_severity", label: "From severity", type: "select", value: c.min_severity || "warning", options: [["warning", "warning"], ["critical", "critical"]] },
    { name: "tags", label: "Only devices with these tags", help: "Comma-separated; empty: every device", value: (c.tags || []).join(", ") },
  ], async (v) => {
    const body = { name: v.name, kind: v.kind, min_severity: v.min_severity, tags: list(v.tags) };
    if (v.kind === "email") Object.assign(body, { smtp_host: v.smtp_host, smtp_port: v.smtp_port, from: v.from, to: list(v.to), username: v.username || undefined, password: v.password || undefined });
    else Object.assign(body, { url: v.url, secret: v.secret || undefined });
    await submit(body);
  });
  const kind = f.elements.kind;
  const sync = () => {
    const email = kind.value === "email";
    for (const name of ["smtp_host", "smtp_port", "from", "to", "username", "password"]) f.elements[name].closest("label").hidden = !email;
    f.elements.url.closest("label").hidden = email;
    f.elements.url.required = !email;
    f.elements.secret.closest("label").hidden = kind.value !== "webhook";
  };
  kind.addEventListener("change", sync);
  sync();
  return f;
}

// --- enrollment ------------------------------------------------------------

export async function enrollment(root) {
  root.append(h("h1", {}, "Enrollment"),
    h("p", { class: "muted" }, "An enrollment token lets new agents join: it pins this server's certificate authority and carries the site and tags they get."));
  const created = h("div", { id: "new-token" });
  const orgs = await api("/orgs").catch(() => []);
  const f = form([
    orgs.length > 1 ? { name: "org", label: "Organisation", type: "select", options: orgs.map((o) => [o.name, o.name]) } : null,
    { name: "site", label: "Site", value: "default", required: true, suggestions: (await api("/sites").catch(() => [])).map((s) => s.name) },
    { name: "tags", label: "Tags", help: "Comma-separated" },
    { name: "uses", label: "Uses", type: "number", min: 1, value: 10, help: "How many agents may enroll with it" },
    { name: "expires_in", label: "Valid for", type: "select", value: "24h", options: [["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]] },
  ].filter(Boolean), async (v) => {
    const token = await api("/enroll-tokens", { method: "POST", body: { org: v.org, site: v.site, tags: list(v.tags), uses: v.uses, expires_in: v.expires_in } });
    const command = "sudo " + token.install_command;
    created.replaceChildren(h("section", { class: "card" },
      h("h2", {}, "Install command"),
      h("p", {}, `Run this on a Linux endpoint: it checks the installer by its SHA-256, the server by the token's CA pin, then installs, enrols and starts the agent under systemd. The token works ${token.uses_left ?? "any number of"} time(s) until ${when(token.expires_at)}; it is shown only now.`),
      h("div", { class: "command" }, h("pre", { id: "installer-command" }, token.installer_command), copyButton(token.installer_command)),
      h("p", {}, "Or, with the steward-agent binary already copied to the endpoint:"),
      h("div", { class: "command" }, h("pre", { id: "install-command" }, command), copyButton(command)),
      h("p", { class: "muted small" }, "Then start the agent: steward-agent --state-dir /var/lib/steward-agent run (or the systemd unit in the README).")));
    draw();
  }, { submitLabel: "Create token", class: "inline" });
  const box = h("div");
  const agent = await api("/agent-binary").catch(() => null);
  const binary = agent?.available
    ? h("section", { class: "card", id: "agent-binary" },
      h("h2", {}, "The agent"),
      h("p", {}, `steward-agent ${agent.version} for ${agent.os} ${agent.arch}, ${bytes(agent.bytes)}. `,
        h("a", { href: "/api/v1/agent-binary/download", download: "steward-agent" }, "Download")),
      h("p", { class: "muted small" }, "Copy it to the endpoint (e.g. /usr/local/bin/steward-agent, chmod 755) and check it there before running the install command:"),
      h("div", { class: "command" }, h("pre", {}, `echo "${agent.sha256}  steward-agent" | sha256sum -c`), copyButton(`echo "${agent.sha256}  steward-agent" | sha256sum -c`)))
    : h("p", { class: "muted" }, agent?.error || "");
  root.append(f, created, binary, h("h2", {}, "Tokens"), box);
  const draw = async () => {
    const all = await api("/enroll-tokens");
    box.replaceChildren(table([
      { title: "Site", render: (t) => t.site },
      { title: "Tags", render: (t) => t.tags.join(", ") },
      { title: "Uses left", class: "num", render: (t) => (t.uses_left ?? "∞") },
      { title: "Created", render: (t) => timeTag(t.created_at) },
      { title: "Expires", render: (t) => when(t.expires_at) },
      { title: "State", render: (t) => pill(t.revoked ? "revoked" : t.expires_at * 1000 < Date.now() ? "expired" : t.uses_left === 0 ? "used up" : "active", t.revoked || t.expires_at * 1000 < Date.now() ? "revoked" : "online") },
      { title: "", render: (t) => (t.revoked
        ? h("button", { class: "small", onclick: () => act("Delete this token's record? The devices it enrolled stay.", () => api(`/enroll-tokens/${t.id}`, { method: "DELETE" }), "Token record deleted", draw) }, "Delete")
        : h("button", { class: "small danger", onclick: () => act(`Revoke the enrollment token for site ${t.site}? Nobody can enrol with it any more.`, () => api(`/enroll-tokens/${t.id}/revoke`, { method: "POST", body: {} }), "Token revoked", draw) }, "Revoke")) },
    ], all, { empty: "No tokens yet." }));
  };
  await draw();
}

// --- users and API tokens --------------------------------------------------

export async function users(root, _parts, _params, ctx) {
  root.append(h("h1", {}, "Users and API tokens"));
  const usersBox = h("div");
  const tokensBox = h("div");
  const secret = h("div");
  const managesUsers = !!holds(ctx.me, "users.manage");
  const roles = holds(ctx.me, "roles.manage") ? await api("/roles").catch(() => []) : [];
  const roleOptions = roles.map((r) => [r.id, r.name]);
  root.append(
    h("div", { class: "head" }, h("h2", {}, "Users"), managesUsers ? h("button", { class: "small primary", onclick: () => newUser() }, "New user") : null), usersBox,
    h("div", { class: "head" }, h("h2", {}, `Your API tokens (${ctx.me.username})`), h("button", { class: "small primary", onclick: () => newToken() }, "New token")), secret, tokensBox);
  const draw = async () => {
    if (!managesUsers) usersBox.replaceChildren(needsPermission(ctx.me, "users.manage", "Managing users"));
    const [people, tokens] = await Promise.all([
      managesUsers ? api("/users").catch((e) => { usersBox.replaceChildren(h("p", { class: "muted" }, e.message)); return null; }) : null,
      api("/tokens")]);
    if (people) usersBox.replaceChildren(table([
      { title: "Username", render: (u) => u.username },
      { title: "Name", render: (u) => [u.full_name || "", u.email ? h("div", { class: "muted small" }, u.email) : null] },
      { title: "Two-factor", render: (u) => (u.totp_enabled ? pill("on", "ok") : pill("off", "warning")) },
      { title: "Id", render: (u) => h("code", {}, u.id) },
      { title: "", render: (u) => userButtons(u) },
    ], people, { rowClass: (u) => (u.disabled ? "disabled" : null) }));
    tokensBox.replaceChildren(table([
      { title: "Name", render: (t) => t.name },
      { title: "Role", render: (t) => t.role_id || "all of yours" },
      { title: "Created", render: (t) => timeTag(t.created_at) },
      { title: "Expires", render: (t) => (t.expires_at ? when(t.expires_at) : "never") },
      { title: "State", render: (t) => pill(t.revoked ? "revoked" : "active", t.revoked ? "revoked" : "online") },
      { title: "", render: (t) => (t.revoked
        ? h("button", { class: "small", onclick: () => act(null, () => api(`/tokens/${t.id}`, { method: "DELETE" }), "Token deleted", draw) }, "Delete")
        : h("button", { class: "small danger", onclick: () => act(`Revoke the API token ${t.name}? Whatever uses it stops at once.`, () => api(`/tokens/${t.id}/revoke`, { method: "POST", body: {} }), "Token revoked", draw) }, "Revoke")) },
    ], tokens, { empty: "No API tokens." }));
  };
  // Disable (every credential stops at once) or delete; the server says
  // why when it refuses (yourself, schedules that run as them).
  // A user's grants, each revocable (it takes effect at once).
  const grants = async (u) => {
    const [user, orgs] = await Promise.all([api(`/users/${u.id}`), api("/orgs").catch(() => [])]);
    const orgName = (id) => orgs.find((o) => o.id === id)?.name || id;
    await modal(`Grants of ${u.username}`, (close) => {
      const box = h("div");
      const drawGrants = (held) => box.replaceChildren(table([
        { title: "Role", render: (g) => g.role_id },
        { title: "Where", render: (g) => (g.org_id ? `organisation ${orgName(g.org_id)}` : "everywhere") + (g.site ? `, site ${g.site}` : "") },
        { title: "Effect", render: (g) => (g.deny ? pill("deny", "warning") : "allow") },
        { title: "", render: (g) => h("div", { class: "row-actions" },
          h("button", { class: "small", dataset: { action: "change-grant" }, onclick: () => changeGrant(u, g, redraw) }, "Change…"),
          h("button", { class: "small danger", onclick: () => act(`Revoke ${u.username}'s ${g.deny ? "deny of" : "grant of"} ${g.role_id}? It takes effect at once.`,
            () => api(`/users/${u.id}/grants/${g.id}`, { method: "DELETE" }), "Grant revoked", redraw) }, "Revoke")) },
      ], held, { empty: "No grants: this user can do nothing." }));
      const redraw = async () => drawGrants((await api(`/users/${u.id}`)).grants);
      drawGrants(user.grants || []);
      return h("div", {}, box, h("div", { class: "form-actions" }, h("button", { onclick: close }, "Close")));
    }, { wide: true });
  };
  // A grant changed in place (role, site, effect): it takes effect at once;
  // the server refuses what the editor may not grant, in a sentence.
  const changeGrant = async (u, g, redraw) => {
    const sites = await api("/sites").catch(() => []);
    const options = roleOptions.some(([id]) => id === g.role_id) ? roleOptions : [[g.role_id, g.role_id], ...roleOptions];
    await modal(`Change ${u.username}'s grant of ${g.role_id}`, (close) => form([
      { name: "role", label: "Role", type: "select", value: g.role_id, options },
      { name: "site", label: "Only this site", value: g.site || "", help: "Empty: the whole organisation", suggestions: sites.filter((s) => s.org_id === g.org_id).map((s) => s.name) },
      { name: "deny", label: "Deny these permissions there instead of granting them", type: "checkbox", value: g.deny },
    ], async (v) => {
      await api(`/users/${u.id}/grants/${g.id}`, { method: "PATCH", body: { role: v.role, site: v.site || null, deny: v.deny }, version: g.version });
      toast(`Grant of ${u.username} changed`);
      close();
      redraw();
    }, { submitLabel: "Save" }));
  };
  // What people call a user and where to reach them (the username stays).
  const editUser = (u) => modal(`Edit ${u.username}`, (close) => form([
    { name: "full_name", label: "Full name", value: u.full_name || "", help: "Empty clears it" },
    { name: "email", label: "Email", type: "email", value: u.email || "", help: "Empty clears it" },
  ], async (v) => {
    await api(`/users/${u.id}`, { method: "PATCH", body: { full_name: v.full_name || null, email: v.email || null }, version: u.version });
    toast("Saved " + u.username);
    close();
    draw();
  }, { submitLabel: "Save" }));
  const userButtons = (u) => h("div", { class: "row-actions" },
    h("button", { class: "small", dataset: { action: "edit" }, onclick: () => editUser(u) }, "Edit…"),
    h("button", { class: "small", dataset: { action: "grants" }, onclick: () => grants(u) }, "Grants…"),
    h("button", { class: "small", dataset: { action: u.disabled ? "enable" : "disable" },
      onclick: () => act(u.disabled ? null : `Disable ${u.username}? Their sessions, tokens and open terminals stop at once.`,
        () => api(`/users/${u.id}`, { method: "PATCH", body: { disabled: !u.disabled }, version: u.version }), `${u.disabled ? "Enabled" : "Disabled"} ${u.username}`, draw) }, u.disabled ? "Enable" : "Disable"),
    h("button", { class: "small", dataset: { action: "reset-password" }, onclick: () => resetPassword(u) }, "Reset password…"),
    h("button", { class: "small danger", dataset: { action: "delete" },
      onclick: () => act(`Delete ${u.username}? Their grants and tokens go; what they did stays in the audit log.`,
        () => api(`/users/${u.id}`, { method: "DELETE" }), `Deleted ${u.username}`, draw) }, "Delete"));
  // Someone else's password, reset: every session of theirs ends.
  const resetPassword = (u) => modal(`Reset the password of ${u.username}`, (close) => form([
    { name: "password", label: "New password", type: "password", required: true, pattern: ".{12,}", help: "At least 12 characters; tell them on another channel. Their sessions end; their API tokens stay.", autocomplete: "new-password" },
  ], async (v) => {
    await api(`/users/${u.id}`, { method: "PATCH", body: { password: v.password }, version: u.version });
    toast(`Password of ${u.username} reset`);
    close();
    draw();
  }, { submitLabel: "Reset password" }));
  const newUser = async () => {
    const [orgs, sites] = await Promise.all([api("/orgs").catch(() => []), api("/sites").catch(() => [])]);
    return modal("New user", (close) => form([
    { name: "username", label: "Username", required: true, pattern: "[A-Za-z0-9._@\\-]{1,64}" },
    { name: "password", label: "Password", type: "password", required: true, min: null, help: "At least 12 characters", pattern: ".{12,}" },
    orgs.length > 1 ? { name: "org", label: "Organisation", type: "select", options: orgs.map((o) => [o.name, o.name]) } : null,
    { name: "full_name", label: "Full name" },
    { name: "email", label: "Email", type: "email" },
    { name: "role", label: "Role", type: "select", value: "technician", options: roleOptions },
    { name: "site", label: "Only this site", help: "Empty: the whole organisation. Existing sites are offered; a name no site has yet asks first (a typo makes a user who sees nothing)", suggestions: sites.map((s) => s.name) },
  ].filter(Boolean), async (v) => {
    if (v.site && sites.length && !sites.some((s) => s.name === v.site) && !window.confirm(`No device, token or grant names the site "${v.site}" yet. Create the user limited to it anyway?`)) return;
    await api("/users", { method: "POST", body: { username: v.username, password: v.password, org: v.org, role: v.role, site: v.site || undefined, full_name: v.full_name || undefined, email: v.email || undefined } });
    toast("Created " + v.username);
    close();
    draw();
  }));
  };
  const newToken = () => modal("New API token", (close) => form([
    { name: "name", label: "Name", required: true, placeholder: "backup script" },
    { name: "role", label: "Role", type: "select", value: "", options: [["", "all of my permissions"], ...roleOptions] },
    { name: "expires_in", label: "Expires in", type: "select", value: "90d", options: [["7d", "7 days"], ["30d", "30 days"], ["90d", "90 days"], ["365d", "1 year"]] },
  ], async (v) => {
    const t = await api("/tokens", { method: "POST", body: { name: v.name, role: v.role || undefined, expires_in: v.expires_in } });
    close();
    secret.replaceChildren(h("section", { class: "card" }, h("p", {}, "The token, shown only now:"),
      h("div", { class: "command" }, h("pre", {}, t.token), copyButton(t.token))));
    draw();
  }));
  await draw();
}
