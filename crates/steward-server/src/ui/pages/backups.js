// Backups: the success rate per organisation, site and device over a
// chosen period (counted from job outcomes), and on a device's page its
// jobs: last result, newest good copy, size, the latest restore test.
// Everything an agent reported becomes text nodes through h().
import { api, h, pill, timeTag, bytes, duration, table, link, pct } from "../lib.js";

const PERIODS = [["7d", "7 days"], ["30d", "30 days"], ["90d", "90 days"]];

const tally = [
  { title: "Success rate", render: (r) => pct(r.success_rate) },
  { title: "OK", render: (r) => String(r.ok) },
  { title: "Warnings", render: (r) => String(r.warning) },
  { title: "Failed", render: (r) => String(r.failed) },
];

export async function render(root, _parts, params) {
  const since = PERIODS.some(([p]) => p === params.get("since")) ? params.get("since") : "30d";
  root.append(
    h("h1", {}, "Backups"),
    h("p", { class: "muted" }, "Success rate from job outcomes (a run that completed with a warning counts as a success). Period: ",
      ...PERIODS.map(([p, name]) => (p === since ? h("strong", {}, name + " ") : h("span", {}, link("#/backups?since=" + p, name), " ")))),
  );
  const s = await api("/backups/summary?since=" + since);
  const orgs = await api("/orgs").catch(() => []);
  const orgName = (id) => (orgs.find((o) => o.id === id) || {}).name || id;
  root.append(
    h("section", { id: "backup-orgs" }, h("h2", {}, "Organisations"), table([
      { title: "Organisation", render: (r) => orgName(r.org_id) }, ...tally,
    ], s.orgs, { empty: "No backup outcome in this period." })),
    h("section", { id: "backup-sites" }, h("h2", {}, "Sites"), table([
      { title: "Organisation", render: (r) => orgName(r.org_id) },
      { title: "Site", render: (r) => r.site || "(none)" }, ...tally,
    ], s.sites, { empty: "No backup outcome in this period." })),
    h("section", { id: "backup-devices" }, h("h2", {}, "Devices"), table([
      { title: "Device", render: (r) => link(`#/device/${r.device_id}?tab=backups`, r.name) },
      { title: "Site", render: (r) => r.site || "(none)" }, ...tally,
    ], s.devices, { empty: "No backup outcome in this period.", onRow: (r) => (location.hash = `#/device/${r.device_id}?tab=backups`) })),
  );
}

// The backups tab of a device.
export async function deviceTab(body, d) {
  const b = await api(`/devices/${d.id}/backups?since=30d`);
  body.append(
    h("h2", {}, "Backup jobs"),
    table([
      { title: "Job", render: (j) => j.name },
      { title: "Source", render: (j) => j.source },
      { title: "Result", render: (j) => pill(j.result) },
      { title: "Last run", render: (j) => timeTag(j.last_run_ms) },
      { title: "Newest good copy", render: (j) => timeTag(j.newest_good_ms) },
      { title: "Size", render: (j) => bytes(j.size_bytes) },
      { title: "Files", render: (j) => (typeof j.file_count === "number" ? String(j.file_count) : "–") },
      { title: "Restore test", render: (j) => (j.restore_test ? h("span", { title: j.restore_test.reason }, pill(j.restore_test.result), " ", timeTag(j.restore_test.at_ms)) : "–") },
      { title: "Reason", class: "wrap", render: (j) => j.reason },
    ], b.jobs, { empty: "No backup job is configured on this device (the agent's --backup-config)." }),
    h("h2", {}, "Outcomes, last 30 days"),
    table([
      { title: "When", render: (r) => timeTag(r.run_at) },
      { title: "Job", render: (r) => r.job },
      { title: "Kind", render: (r) => (r.kind === "restore_test" ? "restore test" : "backup") },
      { title: "Result", render: (r) => pill(r.result) },
      { title: "Duration", render: (r) => duration(r.duration_ms) },
      { title: "Reason", class: "wrap", render: (r) => r.reason },
    ], b.runs, { empty: "No outcome recorded yet." }),
  );
}
