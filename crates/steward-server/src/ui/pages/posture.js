// Security posture: the fleet summary (mean score, worst devices, checks
// failing on most devices with their fix) and, on a device's page, its
// score, failing items with how to fix each, every check, what changed
// (ports, administrators, watched files: before and after) and unusual
// logins. Agent-reported text only ever becomes text nodes through h().
import { api, h, pill, timeTag, table, link } from "../lib.js";

const score = (s) => (typeof s === "number" ? `${s.toFixed(1)} / 100` : "–");

export async function render(root) {
  const p = await api("/posture");
  root.append(
    h("h1", {}, "Security posture"),
    h("p", { class: "muted" }, "A device's score is the weighted share of its applicable checks that pass."),
    h("dl", { class: "facts", id: "posture-fleet" },
      h("dt", {}, "Devices reporting"), h("dd", {}, String(p.devices)),
      h("dt", {}, "Mean score"), h("dd", {}, score(p.mean_score))),
    h("section", { id: "posture-worst" }, h("h2", {}, "Worst devices"), table([
      { title: "Device", render: (r) => link(`#/device/${r.device_id}?tab=posture`, r.name) },
      { title: "Site", render: (r) => r.site || "(none)" },
      { title: "Score", render: (r) => score(r.score) },
      { title: "Failing", render: (r) => String(r.failing) },
      { title: "Reported", render: (r) => timeTag(r.updated_at) },
    ], p.worst, { empty: "No device has reported its posture yet.", onRow: (r) => (location.hash = `#/device/${r.device_id}?tab=posture`) })),
    h("section", { id: "posture-failed" }, h("h2", {}, "Most failed checks"), table([
      { title: "Check", render: (c) => c.title },
      { title: "Devices", render: (c) => String(c.devices) },
      { title: "How to fix", class: "wrap", render: (c) => c.fix },
    ], p.most_failed, { empty: "No check fails anywhere." })),
  );
}

// The posture tab of a device.
export async function deviceTab(body, d) {
  const p = await api(`/devices/${d.id}/posture`);
  body.append(
    h("p", { id: "posture-score", class: "big" }, "Score: ", h("strong", {}, score(p.score)),
      p.updated_at ? h("span", { class: "muted" }, " reported ", timeTag(p.updated_at)) : h("span", { class: "muted" }, " (no report yet)")),
    h("h2", {}, "Failing"),
    table([
      { title: "Check", render: (c) => c.title },
      { title: "Weight", render: (c) => String(c.weight) },
      { title: "Why", class: "wrap", render: (c) => c.reason },
      { title: "How to fix", class: "wrap", render: (c) => c.fix },
    ], p.failing, { empty: "Nothing fails." }),
    h("h2", {}, "Unusual logins, last hour"),
    table([
      { title: "When", render: (u) => timeTag(u.at_ms) },
      { title: "User", render: (u) => u.user },
      { title: "From", render: (u) => u.address || "local" },
      { title: "Why", class: "wrap", render: (u) => u.why },
    ], p.unusual_logins, { empty: `None (${p.recent_failed_logins} failed logins in the last 5 minutes).` }),
    h("h2", {}, "Changes"),
    table([
      { title: "When", render: (c) => timeTag(c.at_ms) },
      { title: "What", render: (c) => c.kind.replace("_", " ") },
      { title: "Subject", class: "wrap", render: (c) => c.subject },
      { title: "Before", class: "wrap", render: (c) => c.before },
      { title: "After", class: "wrap", render: (c) => c.after },
    ], p.changes, { empty: "Nothing changed since the first report." }),
    h("h2", {}, "All checks"),
    table([
      { title: "Check", render: (c) => c.title },
      { title: "Result", render: (c) => pill(c.status === "pass" ? "ok" : c.status === "fail" ? "failed" : "unknown") },
      { title: "Why", class: "wrap", render: (c) => c.reason },
    ], p.checks, { empty: "No check answered yet." }),
    h("h2", {}, "Listening ports"),
    table([
      { title: "Protocol", render: (x) => x.proto },
      { title: "Address", render: (x) => x.address },
      { title: "Port", render: (x) => String(x.port) },
      { title: "Process", render: (x) => x.process || "–" },
    ], p.ports, { empty: "None." }),
  );
}
