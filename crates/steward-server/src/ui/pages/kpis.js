// KPIs: per organisation, site and period (a month or an ISO week), each
// KPI as the report states it (`GET /api/v1/reports`, the same figures as
// its PDF and CSV), its trend over the period's weeks (or a week's days)
// and its definition beside it. What Steward has no data for says "not
// collected". The organisation's scheduled reports are listed below.
import { api, h, table, toast, duration, sparkline, timeTag, form, modal, act } from "../lib.js";

// How each series' values read.
const FORMAT = {
  incident_volume: (v) => String(v),
  availability: (v) => (v * 100).toFixed(2) + " %",
  mtta: (v) => duration(v),
  mttr: (v) => duration(v),
  open_problems: (v) => String(v),
  noise: (v) => v.toFixed(2),
  backup_success: (v) => (v * 100).toFixed(1) + " %",
};

// The last 12 months and 8 ISO weeks, newest first.
function periods(now = new Date()) {
  const out = [];
  for (let i = 0; i < 12; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  for (let i = 0; i < 8; i++) out.push(isoWeek(new Date(now.getTime() - i * 7 * 86400000)));
  return out;
}

function isoWeek(d) {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = (t.getUTCDay() + 6) % 7;
  t.setUTCDate(t.getUTCDate() - day + 3);
  const year = t.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const week = 1 + Math.round(((t - jan4) / 86400000 - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

export async function render(root, _parts, params) {
  const [orgs, sites] = await Promise.all([api("/orgs").catch(() => []), api("/sites").catch(() => [])]);
  const org = params.get("org") || "";
  const site = params.get("site") || "";
  const choices = periods();
  const period = params.get("period") || choices[0];
  const orgId = (orgs.find((o) => o.name === org) || {}).id;
  const go = (changes) => {
    const next = new URLSearchParams({ org, site, period, ...changes });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = "#/kpis?" + next;
  };
  const select = (name, label, options, value, onchange) => h("label", {}, label + " ",
    h("select", { name, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
  const siteOptions = sites.filter((s) => !orgId || s.org_id === orgId).map((s) => [s.name, s.name || "(no site)"]);
  root.append(
    h("h1", {}, "KPIs"),
    h("div", { class: "toolbar", id: "kpi-filters" },
      orgs.length > 1 ? select("org", "Organisation", [["", "Mine"], ...orgs.map((o) => [o.name, o.name])], org, (v) => go({ org: v, site: "" })) : null,
      select("site", "Site", [["", "All sites"], ...siteOptions], site, (v) => go({ site: v })),
      select("period", "Period", (choices.includes(period) ? choices : [period, ...choices]).map((p) => [p, p]), period, (v) => go({ period: v }))),
  );
  const query = new URLSearchParams({ period });
  if (org) query.set("org", org);
  if (site) query.set("site", site);
  const r = await api("/reports?" + query);
  const buckets = r.buckets || [];
  const series = r.series || {};
  const bucketName = (b) => new Date(b.since).toISOString().slice(0, 10);
  const trend = (k) => {
    const values = series[k.key];
    if (!values) return h("span", { class: "muted" }, k.key === "patch_compliance" ? "as of now (no history)" : "–");
    const fmt = FORMAT[k.key] || String;
    return h("div", { class: "kpi-trend" },
      sparkline(values.map((v) => v ?? 0), { title: k.name + " per " + (buckets.length > 5 ? "day" : "week") }),
      h("div", { class: "muted small", dataset: { series: k.key } },
        values.map((v, i) => `${bucketName(buckets[i])}: ${v == null ? "no data" : fmt(v)}`).join(" · ")));
  };
  const value = (k) => (k.value ? k.value : h("span", { class: "muted" }, "no data"));
  const files = (format) => `/api/v1/reports?${query}&format=${format}`;
  root.append(
    h("p", { class: "muted", id: "kpi-period" },
      `${r.org}${r.site ? " / site " + r.site : ""} · ${r.period} (${new Date(r.since).toISOString().slice(0, 10)} to ${new Date(r.until - 1).toISOString().slice(0, 10)}, UTC)`,
      r.has_data ? "" : " · no data in this period", " · ",
      h("a", { href: files("pdf"), download: "" }, "PDF"), " · ", h("a", { href: files("csv"), download: "" }, "CSV")),
    h("section", { id: "kpi-table" }, table([
      { title: "KPI", render: (k) => k.name },
      { title: "Value", class: "wrap", render: (k) => h("span", { dataset: { kpi: k.key } }, value(k)) },
      { title: "Trend", class: "wrap", render: trend },
      { title: "Definition", class: "wrap", render: (k) => h("span", { class: "small" }, k.definition) },
    ], r.kpis, { empty: "No figures." })),
  );
  const schedules = h("section", { id: "report-schedules" });
  root.append(schedules);
  await drawSchedules(schedules, orgs, org);
}

const CADENCES = [["monthly", "Monthly (the month before, sent on the 1st)"], ["weekly", "Weekly (the week before, sent on Monday)"]];

// The organisation's scheduled reports: who set each up (it runs as them),
// its recipients and last sending, "send now", edit and delete.
async function drawSchedules(box, orgs, org) {
  const [list, channels] = await Promise.all([api("/report-schedules").catch(() => null), api("/channels").catch(() => [])]);
  if (!list) { box.replaceChildren(); return; }
  const emails = channels.filter((c) => c.kind === "email");
  const fields = (s) => [
    s || orgs.length < 2 ? null : { name: "org", label: "Organisation", type: "select", value: org, options: orgs.map((o) => [o.name, o.name]) },
    { name: "cadence", label: "Sent", type: "select", value: s?.cadence || "monthly", options: CADENCES },
    { name: "channel", label: "Through the email channel", type: "select", value: s?.channel_id, options: emails.map((c) => [c.id, c.name]) },
    { name: "recipients", label: "Recipients (comma-separated)", value: (s?.recipients || []).join(", "), required: true },
    { name: "site", label: "Site (empty: the whole organisation)", value: s?.site || "" },
  ].filter(Boolean);
  const body = (v) => ({
    cadence: v.cadence, channel: v.channel, site: v.site ? v.site : null,
    recipients: v.recipients.split(",").map((x) => x.trim()).filter(Boolean),
  });
  const edit = (s) => {
    modal(s ? "Change the scheduled report" : "Schedule a report", (close) => form(fields(s), async (v) => {
      if (s) await api("/report-schedules/" + s.id, { method: "PATCH", body: body(v), version: s.version });
      else await api("/report-schedules", { method: "POST", body: { ...body(v), org: v.org || undefined } });
      close();
      toast("Saved");
      await drawSchedules(box, orgs, org);
    }));
  };
  box.replaceChildren(
    h("h2", {}, "Scheduled reports"),
    h("p", { class: "muted" }, "The PDF and CSV by email, sent with the authority of whoever set the schedule up (checked again each time)."),
    table([
      { title: "Sent", render: (s) => s.cadence },
      { title: "Site", render: (s) => s.site || "all" },
      { title: "Recipients", class: "wrap", render: (s) => s.recipients.join(", ") },
      { title: "Set up by", render: (s) => s.created_by },
      { title: "Next", render: (s) => timeTag(s.next_run_at) },
      { title: "Last", class: "wrap", render: (s) => (s.last_sent_at ? h("span", {}, timeTag(s.last_sent_at), " ", s.last_period || "") : s.last_error || "never") },
      { title: "", render: (s) => h("span", {},
        h("button", { class: "small", dataset: { action: "send-now" }, onclick: () => act(null, () => api(`/report-schedules/${s.id}/send`, { method: "POST", body: {} }), "Sent", () => drawSchedules(box, orgs, org)) }, "Send now"), " ",
        h("button", { class: "small", onclick: () => edit(s) }, "Edit"), " ",
        h("button", { class: "small danger", onclick: () => act("Delete this schedule?", () => api("/report-schedules/" + s.id, { method: "DELETE" }), "Deleted", () => drawSchedules(box, orgs, org)) }, "Delete")) },
    ], list, { empty: "No report is scheduled." }),
    emails.length ? h("button", { class: "small", onclick: () => edit(null) }, "Schedule a report") : h("p", { class: "muted" }, "Add an email notification channel to schedule reports."),
  );
}
