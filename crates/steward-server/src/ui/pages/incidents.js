// Incidents: the KPIs of the last 30 days (each with its definition), the
// incidents by status, and one incident with its timeline (alerts, notes,
// status changes, each with who and when), a note form and the status
// buttons. Text from agents and people only ever becomes text nodes.
import { api, h, table, pill, timeTag, toast, link, duration, pct, sparkline } from "../lib.js";
import { runbookCard } from "./runbooks.js";

const TABS = [["active", "Open and acknowledged"], ["resolved", "Resolved"], ["closed", "Closed"]];

export async function render(root, _parts, params) {
  const tab = TABS.some(([t]) => t === params.get("status")) ? params.get("status") : "active";
  root.append(h("h1", {}, "Incidents"));
  const kpis = h("div", { class: "cards", id: "kpis" });
  root.append(kpis);
  root.append(h("div", { class: "tabs", role: "tablist" }, TABS.map(([t, label]) => h("button", {
    role: "tab", "aria-selected": String(t === tab), dataset: { tab: t },
    onclick: () => (location.hash = "#/incidents?status=" + t),
  }, label))));
  const box = h("div", { id: "incidents" });
  root.append(box);
  const trends = h("div", { class: "cards", id: "kpi-trends" });
  root.insertBefore(trends, kpis.nextSibling);
  const figures = await api("/kpis").catch(() => null);
  if (figures) kpis.replaceChildren(...kpiCards(figures));
  // This month's weekly trend (the report's buckets), and last month's
  // report to download.
  const month = new Date().toISOString().slice(0, 7);
  const report = await api("/reports?period=" + month).catch(() => null);
  if (report) trends.replaceChildren(...trendCards(report));
  let list = await api("/incidents");
  list = list.filter((i) => (tab === "active" ? ["open", "acknowledged"].includes(i.status) : i.status === tab));
  box.replaceChildren(table([
    { title: "Priority", render: (i) => pill(i.priority, i.priority === "p1" ? "critical" : "") },
    { title: "Status", render: (i) => pill(i.status) },
    { title: "Title", class: "wrap", render: (i) => link("#/incident/" + i.id, i.title) },
    { title: "Assignee", render: (i) => i.assignee || "–" },
    { title: "Devices", render: (i) => String(i.devices.length) },
    { title: "Opened", render: (i) => timeTag(i.opened_at) },
  ], list, { empty: tab === "active" ? "No open incidents." : "None.", onRow: (i) => (location.hash = "#/incident/" + i.id) }));
}

function kpiCards(k) {
  const card = (key, name, value) => h("div", { class: "stat", dataset: { kpi: key }, title: k.definitions[key] || "" },
    h("div", { class: "figure" }, value),
    h("div", { class: "name" }, name),
    h("div", { class: "muted small" }, k.definitions[key] || ""));
  const median = (s) => (s.median == null ? "–" : duration(s.median));
  return [
    card("incident_volume", "Incidents (30 days)", String(k.incident_volume.opened)),
    card("mtta", "MTTA (median)", median(k.mtta)),
    card("mttr", "MTTR (median)", median(k.mttr)),
    card("availability", "Availability", pct(k.availability.ratio)),
    card("open_problems", "Open problems", k.open_problems.collected ? String(k.open_problems.open) : "not collected"),
  ];
}

function trendCards(r) {
  const def = (key) => r.kpi.definitions[key] || "";
  const card = (key, name, values, last) => h("div", { class: "stat", dataset: { trend: key }, title: def(key) },
    h("div", { class: "figure" }, last),
    sparkline(values.map((v) => v ?? 0), { title: name }),
    h("div", { class: "name" }, name),
    h("div", { class: "muted small" }, def(key)));
  const weeks = r.weeks;
  const latest = (f) => { const v = weeks.map(f).filter((x) => x != null); return v.length ? v[v.length - 1] : null; };
  const mttr = latest((w) => w.mttr_median);
  return [
    card("incident_volume", `Incidents per week (${r.period})`, weeks.map((w) => w.incidents_opened), weeks.map((w) => w.incidents_opened).join(" · ")),
    card("availability", "Availability per week", weeks.map((w) => w.availability), pct(latest((w) => w.availability))),
    card("mttr", "MTTR per week (median)", weeks.map((w) => w.mttr_median), mttr == null ? "–" : duration(mttr)),
    h("div", { class: "stat", id: "report-downloads" },
      h("div", { class: "name" }, "Report for " + r.period),
      h("a", { href: `/api/v1/reports?period=${r.period}&format=pdf`, download: "" }, "PDF"), " · ",
      h("a", { href: `/api/v1/reports?period=${r.period}&format=csv`, download: "" }, "CSV"), " · ",
      link("#/kpis", "All KPIs")),
  ];
}

// One incident: `#/incident/ID`.
export async function incident(root, parts) {
  const incident = await api("/incidents/" + encodeURIComponent(parts[0]));
  const runbooks = await api(`/incidents/${incident.id}/runbooks`).catch(() => []);
  const body = h("div", { id: "incident" });
  root.append(h("p", {}, link("#/incidents", "All incidents")), body);
  const draw = (i) => {
    const setStatus = async (status) => {
      try {
        const after = await api("/incidents/" + i.id, { method: "PATCH", body: { status }, version: i.version });
        toast(`Incident ${status}`);
        draw(after);
      } catch (e) { toast(e.message, "error"); }
    };
    const note = h("textarea", { name: "note", rows: "3", placeholder: "What was found or done" });
    const addNote = async (event) => {
      event.preventDefault();
      if (!note.value.trim()) return;
      try {
        await api(`/incidents/${i.id}/notes`, { method: "POST", body: { text: note.value } });
        draw(await api("/incidents/" + i.id));
      } catch (e) { toast(e.message, "error"); }
    };
    // A script a runbook offers, run as the one who clicks on the
    // incident's devices; the job goes on the timeline.
    const runScript = async (runbook, script) => {
      try {
        const ran = await api(`/incidents/${i.id}/runs`, { method: "POST", body: { runbook: runbook.id, script } });
        toast(`Started ${script} on ${ran.job.targets} device(s)`);
        draw(await api("/incidents/" + i.id));
      } catch (e) { toast(e.message, "error"); }
    };
    const runbookCards = runbooks.map((r) => runbookCard(r, r.offers.length ? h("div", { class: "actions" },
      r.offers.map((script) => h("button", { class: "small", dataset: { action: "run-script", script }, onclick: () => runScript(r, script) }, "Run " + script))) : null));
    body.replaceChildren(
      h("div", { class: "head" }, h("h1", {}, i.title), pill(i.status), pill(i.priority)),
      h("p", { class: "muted" }, `Opened by ${i.opened_by} · assignee ${i.assignee || "none"} · ${i.devices.length} device(s) · ${i.alerts.length} alert(s) · time spent ${duration(i.time_spent_ms)}`),
      h("div", { class: "actions" },
        i.status === "open" ? h("button", { class: "small", dataset: { action: "acknowledge" }, onclick: () => setStatus("acknowledged") }, "Acknowledge") : null,
        ["open", "acknowledged"].includes(i.status) ? h("button", { class: "small", dataset: { action: "resolve" }, onclick: () => setStatus("resolved") }, "Resolve") : null,
        i.status === "resolved" ? h("button", { class: "small", dataset: { action: "close" }, onclick: () => setStatus("closed") }, "Close") : null,
        ["resolved", "closed"].includes(i.status) ? h("button", { class: "small", dataset: { action: "reopen" }, onclick: () => setStatus("open") }, "Reopen") : null),
      h("section", { class: "card" }, h("h2", {}, "Timeline"), table([
        { title: "When", render: (e) => timeTag(e.at) },
        { title: "Who", render: (e) => e.actor },
        { title: "What", render: (e) => e.kind },
        { title: "", class: "wrap", render: (e) => describe(e) },
      ], i.timeline, { empty: "Nothing yet." })),
      h("form", { class: "card", id: "note-form", onsubmit: addNote }, h("h2", {}, "Add a note"), note, h("button", { type: "submit" }, "Add note")),
      runbookCards.length ? h("div", { id: "incident-runbooks" }, h("h2", {}, "Runbooks"), runbookCards) : null,
    );
  };
  draw(incident);
}

function describe(e) {
  const b = e.body || {};
  if (e.kind === "note") return b.text || "";
  if (e.kind === "status") return `${b.from} → ${b.to}`;
  if (e.kind === "alert") return `alert ${b.state || ""}${b.summary ? ": " + b.summary : ""}`;
  if (e.kind === "opened") return b.title || "";
  if (e.kind === "job") return h("span", {}, `ran ${b.script} from runbook “${b.runbook_title}” · `, link("#/job/" + b.job_id, "job"));
  return JSON.stringify(b);
}
