// Patching: compliance per organisation and site (the share of reporting
// devices with no security update pending longer than the grace, the
// oldest one missing, devices needing a reboot, stale ones), the fleet's
// software search, the patch policies and the holds; and on a device's
// page its pending updates (with the rule that made each a security one),
// its reboot state and what its policy plans. Agent text only ever
// becomes text nodes through h().
import { api, h, pill, timeTag, when, table, toast, modal, form, link, pct, lifecycleButtons, act, sparkline } from "../lib.js";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const figures = [
  { title: "Compliant", render: (r) => h("span", { dataset: { share: "" } }, pct(r.share)) },
  { title: "Compliant / reporting", render: (r) => `${r.compliant} / ${r.reporting}` },
  { title: "Stale", render: (r) => String(r.stale) },
  { title: "Need reboot", render: (r) => String(r.reboot_required) },
  { title: "Oldest missing security update", render: (r) => (r.oldest_security_since ? timeTag(r.oldest_security_since) : "none") },
];

export async function render(root, _parts, params) {
  const days = /^\d{1,4}$/.test(params.get("days") || "") ? Number(params.get("days")) : 14;
  const [c, orgs, trend] = await Promise.all([api("/patching/compliance?days=" + days), api("/orgs").catch(() => []),
    api("/patching/compliance/history?since_days=30").catch(() => null)]);
  const orgName = (id) => (orgs.find((o) => o.id === id) || {}).name || id;
  const card = (key, name, value, note) => h("div", { class: "stat", dataset: { figure: key } },
    h("div", { class: "figure" }, value), h("div", { class: "name" }, name), note ? h("div", { class: "muted small" }, note) : null);
  const t = c.total;
  root.append(
    h("h1", {}, "Patching"),
    h("p", { class: "muted" }, `A device is compliant when its package manager answered within 3 days and no security update has been pending on it for more than ${days} days. `,
      link("#/patching?days=7", "7 days"), " · ", link("#/patching?days=14", "14 days"), " · ", link("#/patching?days=30", "30 days"), " · ",
      h("a", { href: `/api/v1/patching/compliance.csv?days=${days}`, download: "patch-compliance.csv", id: "compliance-csv" }, "Download as CSV")),
    h("div", { class: "cards", id: "patch-figures" },
      card("share", "Compliant", pct(t.share), `${t.compliant} of ${t.reporting} reporting devices`),
      card("reboot", "Need a reboot", String(t.reboot_required)),
      card("stale", "Stale", String(t.stale), "no answer from the package manager for 3 days"),
      card("oldest", "Oldest missing security update", t.oldest_security_since ? timeTag(t.oldest_security_since) : "none"),
      trendCard(trend)),
    h("section", { id: "patch-orgs" }, h("h2", {}, "Organisations"), table([
      { title: "Organisation", render: (r) => orgName(r.org_id) }, ...figures,
    ], c.orgs, { empty: "No device yet." })),
    h("section", { id: "patch-sites" }, h("h2", {}, "Sites"), table([
      { title: "Organisation", render: (r) => orgName(r.org_id) },
      { title: "Site", render: (r) => r.site || "(none)" }, ...figures,
    ], c.sites, { empty: "No device yet." })),
    h("section", { id: "patch-devices" }, h("h2", {}, "Devices"), table([
      { title: "Device", render: (d) => link(`#/device/${d.device_id}?tab=updates`, d.device_name) },
      { title: "Site", render: (d) => d.site },
      { title: "State", render: (d) => (!d.reported ? pill("not reported", "unknown") : d.stale ? pill("stale", "warning") : d.compliant ? pill("compliant", "ok") : pill("not compliant", "critical")) },
      { title: "Pending", class: "num", render: (d) => String(d.pending) },
      { title: "Security", class: "num", render: (d) => String(d.security_pending) },
      { title: "Oldest security update since", render: (d) => (d.oldest_security_since ? timeTag(d.oldest_security_since) : "–") },
      { title: "Reboot", render: (d) => (d.reboot_required ? pill("required", "warning") : d.reboot_required === false ? "no" : "unknown") },
    ], [...c.devices].sort((a, b) => (b.compliant === false) - (a.compliant === false) || a.device_name.localeCompare(b.device_name)),
    { empty: "No device yet.", onRow: (d) => (location.hash = `#/device/${d.device_id}?tab=updates`) })),
  );
  root.append(softwareSearch(orgName));
  const policies = h("section", { id: "patch-policies" });
  const holdsBox = h("section", { id: "patch-holds" });
  root.append(policies, holdsBox);
  await Promise.all([drawPolicies(policies, orgs, orgName), drawHolds(holdsBox, orgs, orgName)]);
}

// The share compliant over the last 30 recorded days (at the default
// grace), oldest first.
function trendCard(trend) {
  const days = (trend?.days || []).filter((d) => typeof d.share === "number");
  const figure = days.length > 1 ? sparkline(days.map((d) => d.share), { title: days.map((d) => `${d.day}: ${pct(d.share)}`).join("\n") })
    : h("span", {}, days.length ? pct(days[0].share) : "–");
  return h("div", { class: "stat", dataset: { figure: "trend" } }, h("div", { class: "figure" }, figure),
    h("div", { class: "name" }, "Compliant, last 30 days"),
    h("div", { class: "muted small" }, days.length ? `${days.length} day(s) recorded, ${trend.grace_days}-day grace` : "recorded every 10 minutes from today"));
}

// "Which devices run openssl below 3.0.15?", compared by each device's
// package manager's version rules (on the server).
function softwareSearch(orgName) {
  const result = h("div", { id: "software-result" });
  const f = form([
    { name: "name", label: "Package", required: true, placeholder: "openssl" },
    { name: "below", label: "Version below (optional)", placeholder: "3.0.15" },
  ], async (v) => {
    const q = "name=" + encodeURIComponent(v.name) + (v.below ? "&below=" + encodeURIComponent(v.below) : "");
    const found = await api("/software?" + q);
    result.replaceChildren(
      h("p", { class: "muted" }, `${found.devices.length} device(s) run ${found.name}${found.below ? " below " + found.below : ""}${found.truncated ? " (the list was cut short)" : ""}.`),
      table([
        { title: "Device", render: (r) => link(`#/device/${r.device_id}?tab=updates`, r.device_name) },
        { title: "Organisation", render: (r) => orgName(r.org_id) },
        { title: "Site", render: (r) => r.site },
        { title: "Version", render: (r) => r.version },
        { title: "Manager", render: (r) => r.manager },
      ], found.devices, { empty: "No device matches." }));
  }, { submitLabel: "Search", class: "inline" });
  f.id = "software-search";
  return h("section", { id: "patch-software" }, h("h2", {}, "Software search"), f, result);
}

const scopeText = (s) => (!s || s.kind === "organisation" ? "whole organisation" : `${s.kind} ${s.site || s.tag}`);
const scopeOf = (kind, value) => (kind === "organisation" ? { kind } : { kind, [kind]: value });
const clock = (minute) => `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
const orgField = (orgs) => (orgs.length > 1 ? { name: "org", label: "Organisation", type: "select", options: orgs.map((o) => [o.name, o.name]) } : null);
const scopeFields = (s) => [
  { name: "scope_kind", label: "Applies to", type: "select", value: s?.kind || "organisation", options: [["organisation", "the whole organisation"], ["site", "a site"], ["tag", "devices with a tag"]] },
  { name: "scope_value", label: "Site or tag", value: s?.site || s?.tag || "", help: "For a site or tag scope" },
];

async function drawPolicies(box, orgs, orgName) {
  const draw = async () => {
    const list = await api("/patching/policies");
    box.replaceChildren(
      h("div", { class: "head" }, h("h2", {}, "Policies"), h("button", { class: "small primary", dataset: { action: "new-policy" }, onclick: () => edit() }, "New policy")),
      table([
        { title: "Name", render: (p) => p.fields.name },
        { title: "Organisation", render: (p) => orgName(p.org_id) },
        { title: "Applies to", render: (p) => scopeText(p.fields.scope) },
        { title: "Installs", render: (p) => p.fields.install + (p.fields.deferral_days ? ` after ${p.fields.deferral_days} days` : "") },
        { title: "Rings", render: (p) => ((p.fields.pilot_tags || []).length ? `pilot ${p.fields.pilot_tags.join(", ")}, rest after ${p.fields.ring_delay_days || 0} days` : "none") },
        { title: "Window", render: (p) => `${(p.fields.window.days || []).map((d) => DAYS[d]).join(" ")} ${clock(p.fields.window.start_minute)} for ${p.fields.window.duration_minutes} min (${p.fields.timezone || "UTC"} unless the device says)` },
        { title: "Reboot", render: (p) => p.fields.reboot.replace("_", " ") + (p.fields.reboot === "never" ? "" : `, ${p.fields.reboot_grace_minutes ?? 5} min notice`) },
        { title: "Set by", render: (p) => p.created_by },
        { title: "", render: (p) => lifecycleButtons(p, { edit: () => edit(p), path: `/patching/policies/${p.id}`, what: `the policy ${p.fields.name}`, done: draw,
          deleteNote: "Its devices install nothing on their own until another policy covers them." }) },
      ], list, { empty: "No patch policy: nothing installs on its own." }));
  };
  // A new policy, or `p` edited under its version.
  const edit = async (p) => {
    const v0 = p?.fields;
    let closeDialog = () => {};
    const f = form([
      p ? null : orgField(orgs),
      { name: "name", label: "Name", required: true, value: v0?.name },
      ...scopeFields(v0?.scope),
      { name: "install", label: "Installs on its own", type: "select", value: v0?.install || "security", options: [["security", "security updates"], ["all", "every update"], ["approval", "nothing without an approval"]] },
      { name: "deferral_days", label: "Deferral (days after first seen)", type: "number", min: 0, value: v0?.deferral_days ?? 0 },
      { name: "pilot_tags", label: "Pilot ring tags", value: (v0?.pilot_tags || []).join(", "), help: "Comma-separated; empty: no rings" },
      { name: "ring_delay_days", label: "The rest waits (days)", type: "number", min: 0, value: v0?.ring_delay_days ?? 0 },
      { name: "days", label: "Window days", value: (v0?.window.days || [0, 1, 2, 3, 4, 5, 6]).map((d) => DAYS[d]).join(" "), required: true, help: "Mon Tue Wed Thu Fri Sat Sun" },
      { name: "start", label: "Window starts (local time)", type: "time", value: v0 ? clock(v0.window.start_minute) : "02:00", required: true },
      { name: "duration_minutes", label: "Window length (minutes)", type: "number", min: 1, value: v0?.window.duration_minutes ?? 120, required: true },
      { name: "catch_up", label: "A device that missed its window", type: "select", value: v0?.catch_up || "next_window", options: [["next_window", "installs in the next one"], ["at_once", "installs at once"]] },
      { name: "reboot", label: "Reboot", type: "select", value: v0?.reboot || "when_required", options: [["never", "never"], ["when_required", "when required, within the window"], ["always", "always, within the window"]] },
      { name: "reboot_grace_minutes", label: "Notice before a restart (minutes)", type: "number", min: 0, max: 120, value: v0?.reboot_grace_minutes ?? 5, help: "Logged-in users are warned this long before" },
      { name: "timezone", label: "Time zone of devices that report none", value: v0?.timezone || "UTC" },
    ].filter(Boolean), async (v) => {
      const days = v.days.split(/[\s,]+/).filter(Boolean).map((d) => DAYS.findIndex((x) => x.toLowerCase() === d.slice(0, 3).toLowerCase()));
      if (!days.length || days.includes(-1)) throw new Error("Window days: give day names such as Mon Wed Fri.");
      const [hh, mm] = v.start.split(":").map(Number);
      const body = {
        name: v.name, scope: scopeOf(v.scope_kind, v.scope_value), install: v.install, deferral_days: v.deferral_days || 0,
        pilot_tags: v.pilot_tags.split(",").map((x) => x.trim()).filter(Boolean), ring_delay_days: v.ring_delay_days || 0,
        window: { days, start_minute: hh * 60 + mm, duration_minutes: v.duration_minutes }, catch_up: v.catch_up, reboot: v.reboot,
        reboot_grace_minutes: v.reboot_grace_minutes ?? 5, timezone: v.timezone,
      };
      if (p) await api(`/patching/policies/${p.id}`, { method: "PATCH", body, version: p.version });
      else await api("/patching/policies", { method: "POST", body: { ...body, org: v.org } });
      toast(`Saved the policy ${v.name}`);
      closeDialog();
      draw();
    });
    f.id = "policy-form";
    await modal(p ? `Edit ${v0.name}` : "New patch policy", (close) => { closeDialog = close; return f; }, { wide: true });
  };
  await draw();
}

async function drawHolds(box, orgs, orgName) {
  const draw = async () => {
    const list = await api("/patching/holds");
    box.replaceChildren(
      h("div", { class: "head" }, h("h2", {}, "Holds"), h("button", { class: "small primary", dataset: { action: "new-hold" }, onclick: () => add() }, "Add hold")),
      h("p", { class: "muted small" }, "A held package does not install anywhere the hold covers, whatever the policies say, until it is lifted."),
      table([
        { title: "Package", render: (x) => x.fields.package },
        { title: "Version", render: (x) => x.fields.version || "every version" },
        { title: "Organisation", render: (x) => orgName(x.org_id) },
        { title: "Applies to", render: (x) => scopeText(x.fields.scope) },
        { title: "Reason", class: "wrap", render: (x) => x.fields.reason },
        { title: "Set by", render: (x) => x.definition?.set_by || x.created_by },
        { title: "Since", render: (x) => timeTag(x.definition?.set_at || x.created_at) },
        { title: "", render: (x) => h("button", { class: "small danger", dataset: { action: "lift" },
          onclick: () => act(`Lift the hold on ${x.fields.package}? It installs again where a policy says so.`, () => api(`/patching/holds/${x.id}`, { method: "DELETE" }), `Lifted the hold on ${x.fields.package}`, draw) }, "Lift") },
      ], list, { empty: "No package is held." }));
  };
  const add = async () => {
    let closeDialog = () => {};
    const f = form([
      orgField(orgs),
      { name: "package", label: "Package", required: true, placeholder: "openssl" },
      { name: "version", label: "Version (empty: every version)" },
      ...scopeFields(null),
      { name: "reason", label: "Reason", required: true, placeholder: "breaks the payroll app (ticket 4711)" },
    ].filter(Boolean), async (v) => {
      await api("/patching/holds", { method: "POST", body: { org: v.org, package: v.package, version: v.version || undefined, scope: scopeOf(v.scope_kind, v.scope_value), reason: v.reason } });
      toast(`Held ${v.package}`);
      closeDialog();
      draw();
    }, { submitLabel: "Hold" });
    f.id = "hold-form";
    await modal("Hold a package", (close) => { closeDialog = close; return f; });
  };
  await draw();
}

// Why an update waits, as a sentence.
function waitText(w) {
  switch (w.kind) {
    case "no_policy": return "no policy covers this device";
    case "held": return `held${w.held_version ? " (" + w.held_version + ")" : ""} by ${w.set_by}: ${w.reason}`;
    case "not_security": return "not a security update (the policy installs security updates only)";
    case "needs_approval": return "waits for an approval";
    case "deferred": return `deferred until ${when(w.until)}`;
    case "pilot_ring": return `the pilot ring goes first; this device follows from ${when(w.until)}`;
    case "pilot_empty": return "no pilot device has reported yet";
    case "pilot_unhealthy": return `the pilot ring is unhealthy (${w.incident?.trouble || "trouble"} on ${w.incident?.device || "a pilot device"})`;
    case "outside_window": return w.next ? `outside the window; next one ${when(w.next)}` : "outside the window";
    default: return w.kind;
  }
}

const REBOOT_PLAN = {
  no: "no reboot",
  if_required: "reboots after installing if the system then needs one",
  yes: "reboots",
  deferred: "reboot deferred: the device needs one, which the policy does not do now (outside its window, or never)",
};

// The updates tab of a device: pending updates, reboot, plan.
export async function deviceTab(body, d) {
  const [u, plan] = await Promise.all([api(`/devices/${d.id}/updates`), api(`/devices/${d.id}/patch-plan`).catch(() => null)]);
  const p = u.patching;
  const reboot = p?.reboot;
  const waits = new Map((plan?.waiting || []).map((w) => [`${w.name} ${w.version}`, w]));
  const installs = new Set((plan?.install || []).map((i) => `${i.name} ${i.version}`));
  const planFor = (x) => (installs.has(`${x.name} ${x.available}`) ? pill("installs now", "ok") : waits.has(`${x.name} ${x.available}`) ? waitText(waits.get(`${x.name} ${x.available}`)) : "–");
  body.append(
    h("section", { class: "card", id: "patch-status" }, h("h2", {}, "Detection"), p ? h("dl", { class: "facts" },
      h("dt", {}, "Package manager"), h("dd", {}, p.manager || "none found"),
      h("dt", {}, "Last pass"), h("dd", {}, pill(p.state, p.state === "ok" ? "ok" : "warning"), " ", timeTag(p.checked_at), p.error ? " " + p.error : ""),
      h("dt", {}, "Security decided by"), h("dd", {}, p.security_source === "no_advisory_metadata" ? "nothing: no repository carries advisory metadata" : p.security_source),
      h("dt", {}, "Last upgrade"), h("dd", {}, p.last_upgrade ? when(p.last_upgrade) : "unknown"),
      h("dt", {}, "Services to restart"), h("dd", {}, (p.services || []).join(", ") || "none known")) : h("p", { class: "muted" }, "The agent has not reported patching yet.")),
    h("section", { class: "card", id: "reboot-state" }, h("h2", {}, "Reboot"),
      !reboot || reboot.required == null ? h("p", { class: "muted" }, "Unknown: nothing the agent could read tells.")
        : reboot.required ? h("div", {}, h("p", {}, pill("reboot required", "warning")),
          h("ul", {}, (reboot.reasons || []).map((r) => h("li", { dataset: { source: r.source } }, `${r.source.replace("_", " ")}: ${r.detail}`))),
          (reboot.packages || []).length ? h("p", { class: "small" }, "Asked for by: " + reboot.packages.join(", ")) : null)
          : h("p", {}, "Not required."),
      reboot?.running_kernel ? h("p", { class: "muted small" }, `Running kernel ${reboot.running_kernel}${reboot.newest_kernel ? ", newest installed " + reboot.newest_kernel : ""}`) : null),
    h("section", { class: "card", id: "patch-plan" }, h("h2", {}, "Plan"), plan ? h("p", {},
      plan.policy ? `Policy ${plan.policy}; its window is ${plan.window_open ? "open" : "closed"}; ${plan.install.length} to install now; ${REBOOT_PLAN[plan.reboot] || plan.reboot}.` : "No policy covers this device: nothing installs on its own.")
      : h("p", { class: "muted" }, "No plan could be made.")),
    h("h2", {}, "Pending updates"),
    u.updates == null ? h("p", { class: "muted" }, "The agent cannot tell (no supported package manager answered).")
      : table([
        { title: "Package", render: (x) => x.name },
        { title: "Installed", render: (x) => x.current || "(new)" },
        { title: "Available", render: (x) => x.available },
        { title: "Security", class: "wrap", render: (x) => (x.security ? h("span", {}, pill("security", "critical"), " ", x.rule || "") : "") },
        { title: "From", render: (x) => (x.origin ? [x.origin.origin, x.origin.label, x.origin.codename || x.origin.archive].filter(Boolean).join(" / ") : x.advisory || "–") },
        { title: "Pending since", render: (x) => (x.first_seen ? timeTag(x.first_seen) : "–") },
        { title: "Plan", class: "wrap", render: planFor },
      ], [...u.updates].sort((a, b) => b.security - a.security || a.name.localeCompare(b.name)), { empty: "Up to date." }),
  );
  body.dataset.ready = "true";
}
