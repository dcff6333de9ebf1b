// Steward console (minimal): sign-in, fleet list, device page.
// Everything an agent reports is set with textContent, never as HTML.
"use strict";
const $ = (id) => document.getElementById(id);
const pct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) + "%" : "–");
function ago(secs) {
  if (!secs) return "never";
  const d = Math.max(0, Math.round(Date.now() / 1000 - secs));
  return d < 60 ? d + "s ago" : d < 3600 ? Math.floor(d / 60) + "m ago" : d < 86400 ? Math.floor(d / 3600) + "h ago" : Math.floor(d / 86400) + "d ago";
}
async function api(path, options = {}) {
  const response = await fetch("/api/v1" + path, { credentials: "same-origin", headers: { "content-type": "application/json" }, ...options });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) { show("login"); throw new Error(body.error || "signed out"); }
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
function show(id) {
  for (const s of ["login", "fleet", "device"]) $(s).hidden = s !== id;
  $("signout").hidden = id === "login";
}
function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
}
async function renderFleet() {
  const devices = await api("/devices");
  const online = devices.filter((d) => d.status === "online" && !d.revoked).length;
  $("summary").textContent = `${devices.length} devices · ${online} online · ${devices.length - online} offline`;
  const body = $("devices");
  body.replaceChildren();
  for (const d of devices) {
    const row = body.insertRow();
    row.className = "device";
    row.onclick = () => { location.hash = "#device/" + d.id; };
    const status = d.revoked ? "revoked" : d.status;
    cell(row, d.name); cell(row, d.hostname); cell(row, d.os || "–"); cell(row, status, status);
    cell(row, ago(d.last_seen)); cell(row, pct(d.cpu_utilization)); cell(row, pct(d.memory_utilization)); cell(row, pct(d.disk_utilization));
  }
  show("fleet");
}
async function renderDevice(id) {
  const d = await api("/devices/" + encodeURIComponent(id));
  const inv = d.inventory || {};
  $("device-name").textContent = d.name;
  const facts = $("device-facts");
  facts.replaceChildren();
  const fact = (k, v) => { const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; facts.append(dt, dd); };
  fact("Status", `${d.status} (last seen ${ago(d.last_seen)})`);
  fact("Hostname", inv.hostname || d.hostname);
  fact("OS", `${inv.os_name || ""} ${inv.os_version || ""} · kernel ${inv.kernel_version || "?"} · ${inv.arch || ""}`);
  fact("CPU", `${inv.cpu_model || "?"} (${inv.cpu_cores || "?"} cores) · ${pct(d.cpu_utilization)} used`);
  fact("Memory", `${Math.round((inv.memory_total_bytes || 0) / 2 ** 20)} MiB · ${pct(d.memory_utilization)} used`);
  fact("Packages", String((inv.packages || []).length));
  fact("Logged in", (inv.users || []).map((u) => u.name).join(", ") || "nobody");
  fact("Addresses", (inv.interfaces || []).flatMap((i) => i.addresses).join("  "));
  const fs = $("filesystems");
  fs.replaceChildren();
  for (const f of inv.filesystems || []) {
    const row = fs.insertRow();
    cell(row, f.mountpoint); cell(row, f.fs_type); cell(row, (f.total_bytes / 2 ** 30).toFixed(1) + " GiB");
    cell(row, f.total_bytes ? pct((f.total_bytes - f.available_bytes) / f.total_bytes) : "–");
  }
  const series = await api(`/devices/${encodeURIComponent(id)}/metrics/system.cpu.utilization?since=1h`);
  const samples = (series[0] && series[0].samples) || [];
  const chart = $("cpu-chart");
  chart.replaceChildren();
  if (samples.length > 1) {
    const t0 = samples[0][0], span = Math.max(1, samples[samples.length - 1][0] - t0);
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", samples.map(([t, v]) => `${((t - t0) / span) * 600},${120 - v * 118}`).join(" "));
    chart.append(line);
  }
  show("device");
}
async function route() {
  try {
    const m = location.hash.match(/^#device\/([0-9a-f-]+)$/);
    if (m) await renderDevice(m[1]); else await renderFleet();
  } catch (e) { console.warn(e); }
}
$("login").onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("login-error").textContent = "";
  try {
    const me = await api("/login", { method: "POST", body: JSON.stringify({ username: form.get("username"), password: form.get("password") }) });
    $("who").textContent = me.username;
    await route();
  } catch (e) { $("login-error").textContent = e.message; }
};
$("signout").onclick = async () => { await api("/logout", { method: "POST" }).catch(() => {}); $("who").textContent = ""; show("login"); };
window.addEventListener("hashchange", route);
api("/whoami").then((me) => { $("who").textContent = me.username; route(); }).catch(() => show("login"));
setInterval(() => { if ($("login").hidden) route(); }, 5000);
