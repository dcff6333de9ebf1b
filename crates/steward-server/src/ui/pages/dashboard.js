// The fleet at a glance: today's figures, each with its 30-day trend and a
// link to the list behind it; the newest open alerts and jobs.
import { api, h, sparkline, table, pill, timeTag, link, every } from "../lib.js";

const STATS = [
  { key: "devices", name: "Devices", href: "#/devices" },
  { key: "online", name: "Online", href: "#/devices?status=online", tone: "good" },
  { key: "offline", name: "Offline", href: "#/devices?status=offline", tone: "bad" },
  { key: "alerts_critical", name: "Critical alerts", href: "#/alerts?severity=critical", tone: "bad" },
  { key: "alerts_warning", name: "Warning alerts", href: "#/alerts?severity=warning", tone: "warn" },
  { key: "forecast_full", name: "Forecast to fill", href: "#/devices?forecast=true", tone: "warn", help: "Devices with a forecast alert: a disk or other resource projected to run out." },
  { key: "failing_checks", name: "Failing checks", href: "#/devices?failing_checks=true", tone: "warn", help: "Devices whose local script checks report warning or critical." },
  { key: "missing_updates", name: "Missing updates", href: "#/devices?missing_updates=true", tone: "warn", help: "Devices whose package manager has updates to install.", note: (c) => `${c.security_updates} with security updates` },
];

export async function render(root, _parts, _params, ctx) {
  root.append(h("h1", {}, "Dashboard"));
  const cards = h("div", { class: "cards", id: "stats" });
  const lower = h("div", { class: "columns" });
  root.append(cards, lower);

  // Capacity reads every device's history: at most every ten minutes.
  let capacityRead = null, capacityAt = 0;
  const readCapacity = () => {
    if (!capacityRead || Date.now() - capacityAt > 600000) {
      capacityAt = Date.now();
      capacityRead = api("/capacity?within=30d").catch(() => ({ items: [] }));
    }
    return capacityRead;
  };
  async function refresh() {
    const [summary, open, jobs, outliers, capacity] = await Promise.all([
      api("/fleet/summary"),
      api("/alerts?state=open"),
      api("/jobs?limit=8").catch(() => []),
      api("/fleet/outliers?limit=8").catch(() => []),
      readCapacity(),
    ]);
    const percent = (v) => `${Math.round(v * 1000) / 10}%`;
    const days = (ms) => (ms === 0 ? "now" : `${Math.round(ms / 8640000) / 10} days`);
    cards.replaceChildren(...STATS.map((s) => stat(s, summary)));
    lower.replaceChildren(
      h("section", {}, h("h2", {}, "Open alerts"), table([
        { title: "Severity", render: (a) => pill(a.severity) },
        { title: "Device", render: (a) => link("#/device/" + a.device_id, a.device_name || a.device_id) },
        { title: "Alert", class: "wrap", render: (a) => a.summary || a.monitor_name },
        { title: "Opened", render: (a) => timeTag(a.opened_at) },
      ], open.slice(0, 10), { empty: "No open alerts.", onRow: () => (location.hash = "#/alerts") })),
      h("section", {}, h("h2", {}, "Recent jobs"), table([
        { title: "Job", render: (j) => link("#/job/" + j.id, j.name) },
        { title: "State", render: (j) => pill(j.state === "active" ? j.progress || j.state : j.state) },
        { title: "Runs", render: (j) => Object.entries(j.counts || {}).map(([k, v]) => `${v} ${k}`).join(", ") || "–" },
        { title: "Started", render: (j) => timeTag(j.created_at) },
      ], jobs, { empty: "No jobs yet.", onRow: (j) => (location.hash = "#/job/" + j.id) })),
      h("section", { dataset: { widget: "outliers" } }, h("h2", { title: "Each device against devices of the same tag or OS (at least five): how many robust deviations it sits from their median" }, "Unlike their peers"), table([
        { title: "Device", render: (o) => link("#/device/" + o.device_id, o.device_name || o.device_id) },
        { title: "Measure", render: (o) => o.measure },
        { title: "Value", class: "num", render: (o) => `${percent(o.value)} (peers ${percent(o.peer_median)})` },
        { title: "Distance", class: "num", render: (o) => o.distance.toFixed(1) },
        { title: "Peers", render: (o) => `${o.group} (${o.peers})` },
      ], outliers, { empty: "No device stands out from its peers." })),
      h("section", { dataset: { widget: "capacity" } }, h("h2", { title: "Filesystems and memory forecast to reach 90 % within 30 days" }, "Reaching 90 % within 30 days"), table([
        { title: "Device", render: (f) => link("#/device/" + f.device_id, f.device_name || f.device_id) },
        { title: "What", render: (f) => (f.metric.includes("filesystem") ? `disk ${f.labels.mountpoint || ""}` : "memory") },
        { title: "In", class: "num", render: (f) => days(f.eta_ms) },
        { title: "Now", class: "num", render: (f) => percent(f.level) },
      ], capacity.items.slice(0, 10), { empty: "Nothing forecast to reach 90 % within 30 days." })),
    );
  }
  await refresh();
  ctx.onFleet(() => refresh());
  return every(30000, refresh);
}

function stat(s, summary) {
  const value = summary.counts[s.key] ?? 0;
  const history = summary.history.map((d) => d[s.key] ?? 0);
  const tone = value > 0 && s.tone ? s.tone : "";
  return h("a", { class: "stat " + tone, href: s.href, title: s.help || `Show the ${s.name.toLowerCase()}`, dataset: { stat: s.key } },
    h("div", { class: "figure" }, String(value)),
    h("div", { class: "name" }, s.name),
    sparkline(history.length > 1 ? history : [value, value], { title: `${s.name}, last 30 days` }),
    h("div", { class: "muted small" }, (s.note ? s.note(summary.counts) + " · " : "") + (history.length > 1 ? `last ${history.length} days` : "trend builds up daily")));
}
