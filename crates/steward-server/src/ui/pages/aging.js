// Aging infrastructure: devices flagged by age signals (operating system
// end of life, months without a reboot, disks whose SMART counters rise),
// worst first with their reasons; and, on a device's page, its release and
// support dates, uptime and every disk's counters with what rose when.
// Agent-reported text (disk models, smartctl's errors) only ever becomes
// text nodes through h().
import { api, h, pill, timeTag, table, link } from "../lib.js";

const level = (s) => pill(s === "critical" ? "critical" : s === "warning" ? "warning" : "ok");
const num = (v) => (v === null || v === undefined ? "–" : String(v));

export async function render(root) {
  const all = await api("/aging");
  const flagged = all.filter((r) => r.worst !== "ok");
  root.append(
    h("h1", {}, "Aging infrastructure"),
    h("p", { class: "muted" },
      "Operating systems at or near their end of life, devices up for months without a reboot, disks whose SMART counters are rising."),
    h("dl", { class: "facts", id: "aging-counts" },
      h("dt", {}, "Devices judged"), h("dd", {}, String(all.length)),
      h("dt", {}, "Flagged"), h("dd", {}, String(flagged.length))),
    h("section", { id: "aging-flagged" }, h("h2", {}, "Flagged devices"), table([
      { title: "Device", render: (r) => link(`#/device/${r.id}?tab=aging`, r.name) },
      { title: "Site", render: (r) => r.site || "(none)" },
      { title: "Worst", render: (r) => level(r.worst) },
      { title: "Why", class: "wrap", render: (r) => h("ul", { class: "plain" }, r.findings.map((f) => h("li", {}, `${f.check}: ${f.reason}`))) },
      { title: "Release", render: (r) => r.os || "unknown" },
      { title: "Support ends", render: (r) => r.eol || "–" },
      { title: "Uptime (days)", render: (r) => num(r.uptime_days) },
    ], flagged, { empty: "No device is flagged.", onRow: (r) => (location.hash = `#/device/${r.id}?tab=aging`) })),
  );
}

// The aging tab of a device.
export async function deviceTab(body, d) {
  const a = await api(`/devices/${d.id}/aging`);
  const os = a.os || {};
  const support = os.label
    ? `${os.label}: supported until ${os.ends}` + (os.extended_name ? `, ${os.extended_name} until ${os.extended_ends}` : "")
    : `${os.os_name || "?"} ${os.os_version || ""}: not in the end-of-life table`;
  body.append(
    h("p", { id: "aging-worst", class: "big" }, "Aging: ", level(a.worst),
      a.updated_at ? h("span", { class: "muted" }, " judged ", timeTag(a.updated_at)) : h("span", { class: "muted" }, " (no report yet)")),
    h("h2", {}, "Findings"),
    table([
      { title: "Check", render: (f) => f.check },
      { title: "Severity", render: (f) => level(f.severity) },
      { title: "Why", class: "wrap", render: (f) => f.reason },
    ], a.findings, { empty: "Nothing is flagged." }),
    h("dl", { class: "facts", id: "aging-facts" },
      h("dt", {}, "Release"), h("dd", {}, support),
      h("dt", {}, "Uptime"), h("dd", {}, a.uptime_days === null ? "unknown" : `${a.uptime_days} days`),
      h("dt", {}, "SMART"), h("dd", {}, (a.smart_state || "no report") + (a.smart_error ? `: ${a.smart_error}` : ""))),
    h("h2", {}, "Disks"),
    table([
      { title: "Disk", render: (x) => x.name },
      { title: "Model", render: (x) => x.model || "–" },
      { title: "SMART", render: (x) => (x.passed === false ? pill("critical") : x.passed ? pill("ok") : "–") },
      { title: "Reallocated", render: (x) => num(x.reallocated_sectors) },
      { title: "Pending", render: (x) => num(x.pending_sectors) },
      { title: "Uncorrectable", render: (x) => num(x.uncorrectable_sectors) },
      { title: "Media errors", render: (x) => num(x.media_errors) },
      { title: "Wear %", render: (x) => num(x.percentage_used) },
      { title: "Rose", class: "wrap", render: (x) => x.rises.map((r) => `${r.counter} ${r.from}→${r.to}`).join(", ") || "–" },
      { title: "Error", class: "wrap", render: (x) => x.error || "" },
    ], a.disks, { empty: a.smart_state === "not_available" ? "smartctl is not installed on this device." : "No disk reported." }),
  );
}
