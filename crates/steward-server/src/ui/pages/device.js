// One device: inventory, live health charts over a chosen range, its alerts,
// job history, installed software, checks; actions (run a script, reboot,
// restart a service, terminal, file transfer).
import { api, h, pill, timeTag, when, pct, bytes, table, toast, modal, form, link, duration, every } from "../lib.js";
import { lineChart, rate } from "../charts.js";
import { runDialog, runAction } from "./automation.js";
import { openTerminal } from "./terminal.js";
import { deviceTab as backupsTab } from "./backups.js";
import { deviceTab as updatesTab } from "./patching.js";
import { deviceTab as postureTab } from "./posture.js";
import { deviceTab as agingTab } from "./aging.js";

const RANGES = [["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]];
const TABS = ["overview", "health", "alerts", "jobs", "updates", "software", "checks", "backups", "posture", "aging", "terminal"];

export async function render(root, parts, params, ctx) {
  const id = parts[0];
  const tab = TABS.includes(params.get("tab")) ? params.get("tab") : "overview";
  const d = await api("/devices/" + encodeURIComponent(id));
  const inv = d.inventory || {};
  const status = d.revoked ? "revoked" : d.status;
  const online = status === "online";
  const refuses = new Set(d.refuses || []);
  const action = (label, fn, opts = {}) => h("button", { class: "small " + (opts.class || ""), disabled: opts.disabled, title: opts.title, onclick: fn }, label);
  const offlineNote = online ? null : "The device is offline";

  root.append(
    h("p", { class: "small" }, link("#/devices", "← Devices")),
    h("div", { class: "head" },
      h("h1", { id: "device-name" }, d.name),
      pill(status),
      h("span", { class: "muted" }, `last seen ${timeTag(d.last_seen).textContent}`),
      h("div", { class: "actions" },
        action("Run script…", () => runDialog(["device:" + d.id], d.name), { class: "primary", disabled: refuses.has("scripts"), title: refuses.has("scripts") ? "The device refuses scripts" : null }),
        action("Open terminal", () => (location.hash = `#/device/${d.id}?tab=terminal`), { disabled: !online || refuses.has("shell"), title: offlineNote || (refuses.has("shell") ? "The device refuses remote shells" : null) }),
        action("Files…", () => filesDialog(d), { disabled: !online || refuses.has("files"), title: offlineNote }),
        action("Restart service…", () => serviceDialog(d), { disabled: refuses.has("actions") }),
        action("Reboot", () => runAction(d, { kind: "reboot" }, `Reboot ${d.name}?`), { class: "danger", disabled: refuses.has("actions") }),
        action("Retire…", () => retire(d), { class: "danger" }))),
  );
  if (refuses.size) root.append(h("p", { class: "muted small" }, "This device's local configuration refuses: " + [...refuses].join(", ")));

  const tabs = h("div", { class: "tabs", role: "tablist" }, TABS.map((t) => h("button", {
    role: "tab", "aria-selected": String(t === tab), dataset: { tab: t },
    onclick: () => (location.hash = `#/device/${d.id}?tab=${t}`),
  }, t[0].toUpperCase() + t.slice(1))));
  const body = h("div", { id: "device", class: "tab-body" });
  root.append(tabs, body);

  switch (tab) {
    case "overview": return overview(body, d, inv);
    case "health": return health(body, d, params);
    case "alerts": return alertsTab(body, d, ctx);
    case "jobs": return jobsTab(body, d);
    case "software": return software(body, inv);
    case "checks": return checks(body, d);
    case "backups": return backupsTab(body, d);
    case "updates": return updatesTab(body, d);
    case "posture": return postureTab(body, d);
    case "aging": return agingTab(body, d);
    case "terminal": return openTerminal(body, d);
  }
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function overview(body, d, inv) {
  const users = (inv.users || []).map((u) => u.name).join(", ") || "nobody";
  body.append(h("div", { class: "columns" },
    h("section", { class: "card" }, h("h2", {}, "Inventory"), facts([
      ["Hostname", inv.hostname || d.hostname],
      ["Operating system", `${inv.os_name || d.os || "?"} ${inv.os_version || ""}`],
      ["Kernel", `${inv.kernel_version || "?"} (${inv.arch || "?"})`],
      ["CPU", `${inv.cpu_model || "?"} · ${inv.cpu_cores || "?"} cores · ${pct(d.cpu_utilization)} used`],
      ["Memory", `${bytes(inv.memory_total_bytes)} · ${pct(d.memory_utilization)} used`],
      ["Swap", bytes(inv.swap_total_bytes)],
      ["Up since", inv.boot_time ? when(inv.boot_time) : "–"],
      ["Agent", inv.agent_version || "–"],
      ["Logged in", users],
      ["Packages", String((inv.packages || []).length)],
      ["Pending updates", inv.updates == null ? "unknown" : `${inv.updates.length} (${inv.updates.filter((u) => u.security).length} security)`],
      ["Inventory taken", d.inventory_at ? when(d.inventory_at) : "not yet"],
    ])),
    h("section", { class: "card" }, h("h2", {}, "Enrollment"), facts([
      ["Device id", h("code", {}, d.id)],
      ["Site", d.site],
      ["Tags", d.tags.join(", ") || "none"],
      ["Enrolled", when(d.enrolled_at)],
      ["Status since", d.status_since ? when(d.status_since) : "–"],
    ]))),
  h("h2", {}, "Filesystems"),
  table([
    { title: "Mount", render: (f) => f.mountpoint },
    { title: "Device", render: (f) => f.device },
    { title: "Type", render: (f) => f.fs_type },
    { title: "Size", class: "num", render: (f) => bytes(f.total_bytes) },
    { title: "Free", class: "num", render: (f) => bytes(f.available_bytes) },
    { title: "Used", class: "num", render: (f) => (f.total_bytes ? pct(1 - f.available_bytes / f.total_bytes) : "–") },
  ], inv.filesystems || [], { empty: "No inventory yet." }),
  h("h2", {}, "Network interfaces"),
  table([
    { title: "Name", render: (i) => i.name },
    { title: "MAC", render: (i) => i.mac || "–" },
    { title: "Addresses", class: "wrap", render: (i) => (i.addresses || []).join("  ") },
  ], inv.interfaces || [], { empty: "No inventory yet." }));
}

async function health(body, d, params) {
  const range = RANGES.some(([r]) => r === params.get("range")) ? params.get("range") : "24h";
  body.append(h("div", { class: "toolbar" }, h("span", {}, "Range:"),
    RANGES.map(([r, label]) => h("button", { class: "small" + (r === range ? " primary" : ""), onclick: () => (location.hash = `#/device/${d.id}?tab=health&range=${r}`) }, label))));
  const grid = h("div", { class: "charts", id: "charts" });
  body.append(grid);
  const fetchMetric = (name) => api(`/devices/${d.id}/metrics/${name}?since=${range}&points=720`);
  // The anomaly band and the forecast of a series (none if it fails: the
  // samples still chart).
  const fetchInsight = (name) => api(`/devices/${d.id}/metrics/${name}/insight?since=${range}&points=360`).catch(() => []);
  const [cpu, mem, fs, net, cpuInsight, memInsight, fsInsight] = await Promise.all([
    ...["system.cpu.utilization", "system.memory.utilization", "system.filesystem.utilization", "system.network.io"].map(fetchMetric),
    ...["system.cpu.utilization", "system.memory.utilization", "system.filesystem.utilization"].map(fetchInsight)]);
  // The insight of the chart's first series, and a sentence of it.
  const insightOf = (insights, first) => insights.find((i) => first && JSON.stringify(i.labels) === JSON.stringify(first.labels));
  const said = (insight) => {
    if (!insight) return null;
    const p = insight.projection;
    const parts = [];
    if (p?.time_to_threshold_ms != null) {
      const days = (ms) => (ms / 86400000).toFixed(1);
      parts.push(`Reaches ${Math.round(p.threshold * 100)}% in about ${days(p.time_to_threshold_ms)} days` + (p.soonest_ms != null && p.latest_ms != null ? ` (${days(p.soonest_ms)}–${days(p.latest_ms)})` : ""));
    } else if (p) parts.push(p.growing ? "Growing" : "No growth trend");
    const last = insight.anomalies[insight.anomalies.length - 1];
    if (last) parts.push(`${insight.anomalies.length} anomal${insight.anomalies.length === 1 ? "y" : "ies"}, last: ${(last.explanation || "unusual").replaceAll("_", " ")}`);
    return parts.length ? h("p", { class: "muted", dataset: { insight: "" } }, parts.join(" · ")) : null;
  };
  const cleanups = [];
  const chart = async (title, series, options) => {
    const box = h("div", { class: "chart", dataset: { chart: title } }, h("h3", {}, title));
    grid.append(box);
    if (!series.some((s) => s.samples.length)) { box.append(h("p", { class: "muted" }, "No samples in this range.")); return; }
    const plot = h("div");
    box.append(plot);
    cleanups.push(await lineChart(plot, { series, ...options }));
    const sentence = said(options.insight);
    if (sentence) box.append(sentence);
    if (options.insight) box.dataset.bands = String(options.insight.bands.length), box.dataset.projection = String(options.insight.projection?.points.length || 0);
  };
  const percent = { format: (v) => (v * 100).toFixed(0) + "%", max: 1 };
  await chart("CPU", cpu.map((s) => ({ label: "CPU", samples: s.samples })), { ...percent, insight: insightOf(cpuInsight, cpu[0]) });
  await chart("Memory", mem.map((s) => ({ label: "Memory", samples: s.samples })), { ...percent, insight: insightOf(memInsight, mem[0]) });
  await chart("Filesystems", fs.map((s) => ({ label: s.labels.mountpoint || "?", samples: s.samples })), { ...percent, insight: insightOf(fsInsight, fs[0]) });
  const nics = net.filter((s) => s.labels.device !== "lo");
  await chart("Network", nics.map((s) => ({ label: `${s.labels.device} ${s.labels.direction === "receive" ? "in" : "out"}`, samples: rate(s.samples) })), { format: (v) => bytes(v) + "/s" });
  grid.dataset.ready = "true";
  const stop = every(60000, () => location.hash.includes("tab=health") && range === "1h" && window.dispatchEvent(new HashChangeEvent("hashchange")));
  return () => { stop(); cleanups.forEach((c) => c()); };
}

async function alertsTab(body, d, ctx) {
  const draw = async () => {
    const alerts = await api(`/alerts?active=false&device=${d.id}`);
    body.replaceChildren(table([
      { title: "Severity", render: (a) => pill(a.severity) },
      { title: "State", render: (a) => pill(a.state) },
      { title: "Alert", class: "wrap", render: (a) => `${a.monitor_name}: ${a.summary}` },
      { title: "Opened", render: (a) => timeTag(a.opened_at) },
      { title: "Resolved", render: (a) => (a.resolved_at ? timeTag(a.resolved_at) : "–") },
    ], alerts, { empty: "No alerts for this device.", onRow: (a) => (location.hash = "#/alerts?alert=" + a.id + (a.state === "resolved" ? "&state=resolved" : "")) }));
  };
  await draw();
  ctx.onFleet(draw);
}

async function jobsTab(body, d) {
  const draw = async () => {
    const runs = await api(`/devices/${d.id}/runs?limit=100`);
    body.replaceChildren(table([
      { title: "Status", render: (r) => pill(r.status) },
      { title: "Job", render: (r) => link("#/job/" + r.job_id, r.job_id.slice(0, 8)) },
      { title: "Exit", class: "num", render: (r) => (r.exit_code ?? "–") },
      { title: "Duration", class: "num", render: (r) => duration(r.duration_ms) },
      { title: "Finished", render: (r) => (r.finished_at ? timeTag(r.finished_at) : "–") },
      { title: "Output", class: "wrap", render: (r) => (r.stdout || r.stderr || r.message || "").slice(0, 160) },
    ], runs, { empty: "No jobs have run on this device.", onRow: (r) => (location.hash = "#/job/" + r.job_id) }));
  };
  await draw();
  return every(5000, draw);
}

function software(body, inv) {
  const packages = inv.packages || [];
  const updates = inv.updates;
  body.append(h("h2", {}, "Pending updates"),
    updates == null ? h("p", { class: "muted" }, "The agent cannot tell (no supported package manager answered).")
      : table([
        { title: "Package", render: (u) => u.name },
        { title: "Installed", render: (u) => u.current || "(new)" },
        { title: "Available", render: (u) => u.available },
        { title: "", render: (u) => (u.security ? pill("security", "critical") : "") },
      ], [...updates].sort((a, b) => b.security - a.security || a.name.localeCompare(b.name)), { empty: "Up to date." }),
    h("h2", {}, "Installed packages"));
  const list = h("div");
  const filter = h("input", { type: "search", placeholder: `Filter ${packages.length} packages…`, "aria-label": "Filter packages" });
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = packages.filter((p) => !q || p.name.toLowerCase().includes(q)).slice(0, 500);
    list.replaceChildren(table([
      { title: "Package", render: (p) => p.name },
      { title: "Version", render: (p) => p.version },
      { title: "Manager", render: (p) => p.manager },
    ], shown, { empty: packages.length ? "No package matches." : "No package inventory yet." }));
  };
  filter.addEventListener("input", draw);
  body.append(h("div", { class: "toolbar" }, filter, h("span", { class: "muted small" }, "at most 500 shown")), list);
  draw();
}

async function checks(body, d) {
  const results = await api(`/devices/${d.id}/checks`);
  body.append(table([
    { title: "Check", render: (c) => c.name },
    { title: "State", render: (c) => pill(c.state) },
    { title: "Message", class: "wrap", render: (c) => c.message },
    { title: "At", render: (c) => timeTag(c.at) },
  ], results, { empty: "No script checks report from this device." }));
}

async function serviceDialog(d) {
  await modal("Restart a service", (close) => form(
    [{ name: "service", label: "Service", required: true, placeholder: "nginx", pattern: "[A-Za-z0-9@._:\\-]{1,128}" }],
    async ({ service }) => { close(); await runAction(d, { kind: "restart_service", service }, `Restart ${service} on ${d.name}? Its users lose their connections while it restarts.`); },
    { submitLabel: "Restart" }));
}

async function filesDialog(d) {
  await modal("File transfer", (close) => {
    const result = h("div");
    const get = form([{ name: "path", label: "Download a file from the device", required: true, placeholder: "/etc/os-release" }], async ({ path }) => {
      const file = await api(`/devices/${d.id}/files/get`, { method: "POST", body: { path } });
      if (file.status !== "succeeded") throw new Error(`The device could not send ${path}: ${file.message || file.status}`);
      const raw = Uint8Array.from(atob(file.content_b64 || ""), (c) => c.charCodeAt(0));
      const a = h("a", { href: URL.createObjectURL(new Blob([raw])), download: path.split("/").pop() || "file" }, `Save ${path} (${bytes(raw.length)})`);
      result.replaceChildren(a);
      a.click();
    }, { submitLabel: "Download" });
    const put = h("form", { class: "form" },
      h("label", { class: "field" }, h("span", { class: "label" }, "Upload a file (at most 2 MiB)"), h("input", { type: "file", name: "file", required: true })),
      h("label", { class: "field" }, h("span", { class: "label" }, "To path on the device"), h("input", { name: "path", required: true, placeholder: "/tmp/file.txt" })),
      h("div", { class: "form-actions" }, h("button", { class: "primary" }, "Upload")));
    put.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = put.elements.file.files[0];
      if (!file || !put.elements.path.value) { toast("Choose a file and a path", "error"); return; }
      // Said here, before a 3 MB body makes the server drop the request.
      const limit = 2 * 1024 * 1024;
      if (file.size > limit) { toast(`${file.name} is ${(file.size / limit * 2).toFixed(1)} MiB; the limit is 2 MiB`, "error"); return; }
      const data = new Uint8Array(await file.arrayBuffer());
      let binary = "";
      for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
      try {
        await api(`/devices/${d.id}/files/put`, { method: "POST", body: { path: put.elements.path.value, content_b64: btoa(binary) } });
        toast("Uploaded " + file.name);
        close();
      } catch (error) { toast(error.message, "error"); }
    });
    return h("div", {}, get, result, h("hr"), put);
  });
}

// A decommissioned device: revoked, out of the lists, its history kept.
async function retire(d) {
  if (!confirm(`Retire ${d.name}? It is disconnected and refused from now on, leaves the device lists and its open alerts are resolved; its history stays for reports.`)) return;
  try {
    await api(`/devices/${d.id}`, { method: "DELETE" });
    toast(`Retired ${d.name}`);
    location.hash = "#/devices";
  } catch (e) {
    toast(e.message, "error");
  }
}
