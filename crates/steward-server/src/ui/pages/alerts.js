// Alerts: open, acknowledged and resolved lists; acknowledge and resolve;
// silences (with a reason and an expiry) and maintenance windows; per alert
// its history: notifications sent, suppression reasons, remediation.
import { api, h, table, pill, timeTag, when, toast, modal, form, link, lifecycleButtons } from "../lib.js";

const TABS = [["open", "Open"], ["acknowledged", "Acknowledged"], ["resolved", "Resolved"], ["silences", "Silences"], ["maintenance", "Maintenance windows"]];

export async function render(root, _parts, params, ctx) {
  const tab = TABS.some(([t]) => t === params.get("state")) ? params.get("state") : "open";
  const severity = params.get("severity") || "";
  root.append(h("div", { class: "head" }, h("h1", {}, "Alerts"),
    h("button", { class: "small", onclick: () => silenceDialog(draw) }, "Silence…"),
    h("button", { class: "small", onclick: () => maintenanceDialog(draw) }, "Maintenance window…")));
  root.append(h("div", { class: "tabs", role: "tablist" }, TABS.map(([t, label]) => h("button", {
    role: "tab", "aria-selected": String(t === tab), dataset: { tab: t },
    onclick: () => (location.hash = "#/alerts?state=" + t),
  }, label))));
  const box = h("div", { id: "alerts" });
  const detail = h("div", { id: "alert-detail" });
  root.append(box, detail);

  async function draw() {
    if (tab === "silences") return drawRules("/silences", silenceColumns);
    if (tab === "maintenance") return drawRules("/maintenance", windowColumns);
    let alerts = await api("/alerts?state=" + tab);
    if (severity) alerts = alerts.filter((a) => a.severity === severity);
    const act = async (a, what) => {
      try {
        await api(`/alerts/${a.id}/${what}`, { method: "POST", body: {} });
        toast(`${what === "acknowledge" ? "Acknowledged" : "Resolved"}: ${a.monitor_name} on ${a.device_name}`);
        draw();
      } catch (e) { toast(e.message, "error"); }
    };
    box.replaceChildren(h("div", {},
      severity ? h("p", {}, `Only ${severity} alerts. `, link("#/alerts?state=" + tab, "Show all")) : null,
      table([
        { title: "Severity", render: (a) => pill(a.severity) },
        { title: "Device", render: (a) => link("#/device/" + a.device_id, a.device_name) },
        { title: "Monitor", render: (a) => a.monitor_name },
        { title: "Subject", render: (a) => a.subject },
        { title: "Summary", class: "wrap", render: (a) => a.summary },
        { title: "Opened", render: (a) => timeTag(a.opened_at) },
        tab === "resolved" ? { title: "Resolved", render: (a) => [timeTag(a.resolved_at), " ", h("span", { class: "muted" }, a.resolved_by ? `by ${a.resolved_by}` : "cleared")] } : null,
        { title: "Notes", class: "wrap", render: (a) => [a.flapping ? pill("flapping", "warning") : null, a.suppressed ? h("span", { class: "muted", title: "Not notified" }, "suppressed: " + a.suppressed) : null, a.acknowledged_by ? h("span", { class: "muted" }, "ack by " + a.acknowledged_by) : null] },
        { title: "", render: (a) => h("div", { class: "actions" },
          a.state === "open" ? h("button", { class: "small", dataset: { action: "acknowledge" }, onclick: () => act(a, "acknowledge") }, "Acknowledge") : null,
          a.state !== "resolved" ? h("button", { class: "small", dataset: { action: "resolve" }, onclick: () => act(a, "resolve") }, "Resolve") : null) },
      ], alerts, {
        empty: tab === "open" ? "No open alerts. All quiet." : "None.",
        rowClass: (a) => "alert " + (a.id === params.get("alert") ? "selected" : ""),
        onRow: (a) => showHistory(a),
      })));
    const chosen = alerts.find((a) => a.id === params.get("alert"));
    if (chosen) showHistory(chosen);
  }

  async function showHistory(a) {
    const events = await api(`/alerts/${a.id}/history`);
    detail.replaceChildren(h("section", { class: "card" },
      h("h2", {}, `History: ${a.monitor_name} on ${a.device_name}${a.subject ? ` (${a.subject})` : ""}`),
      h("ul", { class: "events" }, events.map((e) => h("li", {}, h("div", { class: "at" }, when(e.at)), describe(e.event))))));
  }

  // Silences and windows, each deletable (a silence lifted early).
  async function drawRules(path, columns) {
    const rules = await api(path);
    const what = path === "/silences" ? "this silence" : "this maintenance window";
    const editor = path === "/silences" ? silenceDialog : maintenanceDialog;
    const actions = { title: "", render: (r) => lifecycleButtons(r, { edit: () => editor(draw, r), path: `${path}/${r.id}`, what, done: draw,
      deleteNote: path === "/silences" ? "Its alerts notify again at once." : "" }) };
    box.replaceChildren(table([...columns, actions], rules, { empty: "None." }));
  }

  await draw();
  ctx.onFleet(() => { if (!["silences", "maintenance"].includes(tab)) draw(); });
}

// One history event in words.
function describe(e) {
  const extra = [];
  if (e.suppressed) extra.push(h("span", { class: "muted" }, ` · not notified: ${e.suppressed}`));
  if (e.notified) extra.push(h("span", { class: "muted" }, " · notification queued"));
  switch (e.event) {
    case "opened": return h("span", {}, pill(e.severity), " opened: ", e.summary, extra);
    case "resolved": return h("span", {}, pill("resolved"), e.by ? ` by ${e.by}` : ": " + (e.summary || ""), extra);
    case "severity_changed": return h("span", {}, `severity ${e.from} → ${e.to}: ${e.summary || ""}`, extra);
    case "acknowledged": return h("span", {}, pill("acknowledged"), ` by ${e.by}`);
    case "notification": return h("span", {}, "notification ", pill(e.status, e.status === "sent" ? "delivered" : e.status === "retrying" ? "failed" : "queued"),
      ` via ${e.channel} (${e.kind}) for “${e.state}”`, e.attempts ? ` after ${e.attempts} attempt${e.attempts === 1 ? "" : "s"}` : "", e.error ? h("span", { class: "muted" }, ` · ${e.error}`) : null);
    default: {
      if (String(e.event).startsWith("remediation") || e.event === "escalated")
        return h("span", {}, pill(e.event.replace(/_/g, " "), e.event.includes("escalated") ? "failed" : "running"), " ", [e.script, e.status, e.reason, e.stderr].filter(Boolean).join(" · "));
      return h("code", {}, JSON.stringify(e));
    }
  }
}

const matcherText = (m) => [...(m.devices || []).map((d) => "device " + d), ...(m.sites || []).map((s) => "site " + s), ...(m.tags || []).map((t) => "tag " + t), ...(m.os || []).map((o) => "os " + o)].join(", ") || "everything";

// What a rule covers today (the server counts it): names, or a warning.
const coversColumn = { title: "Covers now", class: "wrap", render: (r) => {
  const c = r.covers || { count: 0, devices: [] };
  if (!c.count) return pill("no device", "warning");
  return `${c.count} device${c.count === 1 ? "" : "s"}: ${c.devices.join(", ")}${c.count > c.devices.length ? ", …" : ""}`;
} };

const silenceColumns = [
  { title: "Matches", render: (r) => matcherText(r.definition.matcher || {}) },
  coversColumn,
  { title: "Monitor", render: (r) => r.definition.monitor || "all" },
  { title: "Reason", class: "wrap", render: (r) => r.definition.reason },
  { title: "Until", render: (r) => pill(r.definition.until > Date.now() ? "active" : "expired", r.definition.until > Date.now() ? "warning" : "expired") },
  { title: "Ends", render: (r) => when(r.definition.until) },
  { title: "By", render: (r) => r.created_by },
];

const windowColumns = [
  { title: "Name", render: (r) => r.definition.name },
  { title: "Matches", render: (r) => matcherText(r.definition.matcher || {}) },
  coversColumn,
  { title: "When", render: (r) => {
    const s = r.definition.schedule || {};
    if (s.kind === "once") return `${when(s.start)} – ${when(s.end)}`;
    const days = (s.days || []).map((d) => DAYS[d]).join(" ");
    const zone = s.timezone || (s.utc_offset_minutes ? `UTC${s.utc_offset_minutes > 0 ? "+" : "-"}${clock(Math.abs(s.utc_offset_minutes))}` : "UTC");
    return `weekly ${days} at ${clock(s.start_minute)} (${zone}) for ${span(s.duration_minutes)}`;
  } },
  { title: "By", render: (r) => r.created_by },
];

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
// 90 → "01:30"
const clock = (minutes) => `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
// 90 → "1h 30m"
const span = (minutes) => [minutes >= 60 ? `${Math.floor(minutes / 60)}h` : "", minutes % 60 ? `${minutes % 60}m` : ""].filter(Boolean).join(" ");

// "a, b" → ["a", "b"]
const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);
const matcherFields = [
  { name: "devices", label: "Devices (names, comma-separated)" },
  { name: "sites", label: "Sites" },
  { name: "tags", label: "Tags" },
  { name: "os", label: "Operating systems", help: "Prefixes, e.g. debian, windows. A device matches when any field matches it; the server refuses a silence that covers no device." },
];
const matcherOf = (v) => ({ devices: list(v.devices), sites: list(v.sites), tags: list(v.tags), os: list(v.os) });
// The matcher fields filled from a saved rule's matcher.
const matcherValues = (m) => matcherFields.map((f) => ({ ...f, value: (m?.[f.name] || []).join(", ") }));

// A new silence, or `rule` edited (its duration counts from now).
function silenceDialog(done, rule) {
  const d = rule?.definition || {};
  return modal(rule ? "Edit silence" : "Silence alerts", (close) => form([
    ...matcherValues(d.matcher),
    { name: "monitor", label: "Only this monitor (name)", value: d.monitor || "", help: "Empty: every monitor" },
    { name: "duration", label: rule ? "For (from now)" : "For", required: true, value: "2h", pattern: "[0-9]+[smhd]", help: "e.g. 30m, 2h, 1d" },
    { name: "reason", label: "Reason", required: true, value: d.reason, placeholder: "Replacing the disk, ticket #4711" },
  ], async (v) => {
    const body = { matcher: matcherOf(v), monitor: v.monitor || null, duration: v.duration, reason: v.reason };
    if (rule) await api(`/silences/${rule.id}`, { method: "PATCH", body, version: rule.version });
    else await api("/silences", { method: "POST", body });
    toast("Silenced for " + v.duration);
    close();
    done();
  }, { submitLabel: "Silence" }));
}

// A new maintenance window, or `rule` edited.
function maintenanceDialog(done, rule) {
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const d = rule?.definition || {};
  const now = new Date();
  const from = d.schedule?.start ? new Date(d.schedule.start) : now;
  const to = d.schedule?.end ? new Date(d.schedule.end) : new Date(now.getTime() + 2 * 3600000);
  const weekly = d.schedule?.kind === "weekly" ? d.schedule : null;
  const zone = weekly?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  let closeDialog = () => {};
  const f = form([
    { name: "name", label: "Name", required: true, value: d.name, placeholder: "Patch night" },
    ...matcherValues(d.matcher),
    { name: "repeats", label: "Repeats", type: "select", value: weekly ? "weekly" : "once", options: [["once", "Once"], ["weekly", "Every week"]] },
    { name: "start", label: "Starts", type: "datetime-local", value: local(from) },
    { name: "end", label: "Ends", type: "datetime-local", value: local(to) },
    { name: "days", label: "On", value: (weekly?.days || [6]).map((x) => DAYS[x]).join(", "), pattern: "\\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(\\s*,\\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun))*\\s*", help: "Days, e.g. Sun or Mon, Wed, Fri" },
    { name: "at", label: "At", type: "time", value: clock(weekly?.start_minute ?? 120) },
    { name: "for", label: "For", value: weekly ? span(weekly.duration_minutes).replace(" ", "") : "3h", pattern: "([0-9]+h)?([0-9]+m)?", help: "e.g. 3h, 90m, 1h30m" },
    { name: "timezone", label: "Time zone", value: zone, help: "An IANA name (Europe/Berlin, America/New_York, UTC): the window keeps its local time when the clocks change" },
  ], async (v) => {
    let schedule;
    if (v.repeats === "weekly") {
      const days = list(v.days).map((x) => DAYS.indexOf(x));
      const [hh, mm] = (v.at || "").split(":").map(Number);
      const m = /^(?:([0-9]+)h)?(?:([0-9]+)m)?$/.exec(v.for || "");
      const minutes = m ? Number(m[1] || 0) * 60 + Number(m[2] || 0) : 0;
      if (!days.length || days.includes(-1)) throw new Error("On: name the days, e.g. Sun or Mon, Wed.");
      if (!(minutes > 0)) throw new Error("For: how long it lasts, e.g. 3h or 90m.");
      schedule = { kind: "weekly", days, start_minute: hh * 60 + mm, duration_minutes: minutes, timezone: v.timezone || "UTC" };
    } else {
      const start = new Date(v.start).getTime(), end = new Date(v.end).getTime();
      if (!(end > start)) throw new Error("The window must end after it starts.");
      schedule = { kind: "once", start, end };
    }
    const body = { name: v.name, matcher: matcherOf(v), schedule };
    const saved = rule ? await api(`/maintenance/${rule.id}`, { method: "PATCH", body, version: rule.version })
      : await api("/maintenance", { method: "POST", body });
    // Kept, but it covers no device today: say so.
    toast(saved.warning ? "Saved; " + saved.warning : "Maintenance window saved", saved.warning ? "error" : "ok");
    closeDialog();
    done();
  });
  // Only the fields of the chosen repetition show (and are required).
  const repeats = f.elements.repeats;
  const show = () => {
    const isWeekly = repeats.value === "weekly";
    for (const [name, weeklyField] of [["start", false], ["end", false], ["days", true], ["at", true], ["for", true], ["timezone", true]]) {
      const input = f.elements[name];
      input.closest("label").hidden = weeklyField !== isWeekly;
      input.required = weeklyField === isWeekly;
    }
  };
  repeats.addEventListener("change", show);
  show();
  return modal(rule ? `Edit ${d.name}` : "Maintenance window", (close) => { closeDialog = close; return f; });
}
