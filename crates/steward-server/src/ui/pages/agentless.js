// Agentless devices: switches, printers, UPSs, websites… checked by a
// chosen agent. The list (status "unknown" when the probing agent is
// offline), a form to add one, and per device its probes with their
// latest results (the device's own checks) and a form to add a probe.
// What agents and probed hosts report becomes text nodes through h().
import { api, h, pill, timeTag, table, link, form, modal, toast, act } from "../lib.js";

const CATEGORIES = ["switch", "router", "firewall", "access-point", "printer", "ups", "storage", "server", "website", "certificate", "database", "other"];

function creator(agents, done) {
  return form([
    { name: "name", label: "Name", required: true },
    { name: "category", label: "Category", type: "select", options: CATEGORIES.map((c) => [c, c]), value: "website" },
    { name: "address", label: "Address (host name or IP)", required: true, pattern: "[A-Za-z0-9._:\\-]{1,253}" },
    { name: "probe_agent", label: "Probed by", type: "select", required: true, options: agents.map((a) => [a.id, `${a.name} (${a.site})`]) },
  ], async (values) => {
    const created = await api("/agentless-devices", { method: "POST", body: values });
    toast("Agentless device added");
    done(created);
  }, { submitLabel: "Add" });
}

function prober(device, done) {
  return form([
    { name: "name", label: "Name (the check is probe.NAME)", required: true, pattern: "[a-z][a-z0-9_.]{0,47}", placeholder: "web" },
    { name: "url", label: "What to probe", required: true, placeholder: "https://example.org/health?match=ok",
      help: "tcp://host:port · https://host/path?status=200&match=text · tls://host:443?warn_days=21 · smtp://host (STARTTLS) · snmp://host?community=public" },
  ], async (values) => {
    await api(`/agentless-devices/${device.id}/probes`, { method: "POST", body: values });
    toast("Probe added: the agent runs it now");
    done();
  }, { submitLabel: "Add probe" });
}

export async function render(root, _parts, params) {
  const wanted = params.get("device");
  const [list, devices] = await Promise.all([api("/agentless-devices"), api("/devices")]);
  const agents = devices.filter((d) => d.kind !== "agentless" && !d.revoked);
  const name = (id) => (devices.find((d) => d.id === id) || {}).name || id || "–";
  root.append(h("div", { class: "head" }, h("h1", {}, "Agentless devices"),
    h("button", { class: "small", dataset: { action: "new-agentless" }, disabled: agents.length === 0, onclick: () => {
      modal("New agentless device", (close) => creator(agents, (created) => { close(); location.hash = "#/agentless?device=" + created.id; }));
    } }, "Add device")));
  root.append(h("p", { class: "muted" }, "Devices without an agent, checked by an agent on their network. When that agent is offline they show as unknown and their probe alerts wait."));
  root.append(table([
    { title: "Name", render: (d) => link("#/agentless?device=" + d.id, d.name) },
    { title: "Category", render: (d) => d.category || "–" },
    { title: "Address", render: (d) => d.address || "–" },
    { title: "Status", render: (d) => pill(d.status) },
    { title: "Probed by", render: (d) => link("#/device/" + d.probe_agent, name(d.probe_agent)) },
    { title: "Probes", render: (d) => d.probes.map((p) => p.name).join(", ") || "–" },
    { title: "Last result", render: (d) => timeTag(d.last_seen) },
  ], list, { empty: "No agentless devices yet.", onRow: (d) => (location.hash = "#/agentless?device=" + d.id) }));
  const one = list.find((d) => d.id === wanted);
  if (one) root.append(await show(one, name));
}

async function show(d, name) {
  const checks = await api(`/devices/${d.id}/checks`).catch(() => []);
  const result = (p) => checks.find((c) => c.name === "probe." + p.name);
  const box = h("section", { class: "card", id: "agentless-device", dataset: { device: d.id } },
    h("h2", {}, d.name, " ", pill(d.status), " ", h("span", { class: "muted small" }, `${d.category || ""} · ${d.address || ""} · probed by ${name(d.probe_agent)}`)),
    h("p", {}, link(`#/device/${d.id}`, "Metrics, checks and alerts of this device")),
    table([
      { title: "Probe", render: (p) => p.name },
      { title: "Target", class: "wrap", render: (p) => p.url },
      { title: "Result", render: (p) => (result(p) ? pill(result(p).state) : "–") },
      { title: "Message", class: "wrap probe-message", render: (p) => (result(p) ? result(p).message : "waiting for the agent") },
      { title: "At", render: (p) => (result(p) ? timeTag(result(p).at) : "–") },
      { title: "Set up by", render: (p) => p.created_by },
      { title: "", render: (p) => h("button", { class: "small", onclick: (event) => {
        event.stopPropagation();
        act(`Remove the probe ${p.name}?`, () => api(`/agentless-devices/${d.id}/probes/${p.id}`, { method: "DELETE" }),
          "Probe removed", () => location.reload());
      } }, "Remove") },
    ], d.probes, { empty: "No probe yet: add one." }),
    h("div", { class: "actions" },
      h("button", { class: "small", dataset: { action: "new-probe" }, onclick: () => {
        modal("New probe", (close) => prober(d, () => { close(); location.reload(); }));
      } }, "Add probe"),
      h("button", { class: "small danger", onclick: () => act(`Retire ${d.name}? Its history stays.`,
        () => api(`/agentless-devices/${d.id}`, { method: "DELETE" }), "Retired", () => (location.hash = "#/agentless")) }, "Retire")));
  return box;
}
