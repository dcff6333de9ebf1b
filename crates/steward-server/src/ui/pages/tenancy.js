// Organisations and roles: created, renamed or edited in place (under the
// version read), deleted once nothing holds them; the server's sentence
// shows when it refuses (what an organisation still holds, who holds a
// role).
import { api, h, table, toast, modal, form, lifecycleButtons } from "../lib.js";

// "a, b" → ["a", "b"]
const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);

export async function render(root) {
  root.append(h("h1", {}, "Organisations and roles"));
  const orgsBox = h("div");
  const sitesBox = h("div");
  const rolesBox = h("div");
  root.append(
    h("div", { class: "head" }, h("h2", {}, "Organisations"), h("button", { class: "small primary", onclick: () => editOrg() }, "New organisation")), orgsBox,
    h("div", { class: "head" }, h("h2", {}, "Sites")),
    h("p", { class: "muted" }, "A site exists while devices, enrollment tokens or grants name it. Renaming one renames it everywhere, monitors, silences, windows and schedules included; renaming it to another site's name merges the two."),
    sitesBox,
    h("div", { class: "head" }, h("h2", {}, "Roles"), h("button", { class: "small primary", onclick: () => editRole() }, "New role")), rolesBox);

  const draw = async () => {
    const [orgs, roles, sites] = await Promise.all([
      api("/orgs").catch((e) => { orgsBox.replaceChildren(h("p", { class: "muted" }, e.message)); return null; }),
      api("/roles").catch((e) => { rolesBox.replaceChildren(h("p", { class: "muted" }, e.message)); return null; }),
      api("/sites").catch((e) => { sitesBox.replaceChildren(h("p", { class: "muted" }, e.message)); return null; }),
    ]);
    const orgName = (id) => (orgs || []).find((o) => o.id === id)?.name || id;
    if (sites) sitesBox.replaceChildren(table([
      { title: "Organisation", render: (s) => orgName(s.org_id) },
      { title: "Site", render: (s) => s.name },
      { title: "Devices", class: "num", render: (s) => String(s.devices) },
      { title: "Enrollment tokens", class: "num", render: (s) => String(s.enroll_tokens) },
      { title: "Grants", class: "num", render: (s) => String(s.grants) },
      { title: "", render: (s) => h("button", { class: "small", dataset: { site: s.name }, onclick: () => renameSite(s) }, "Rename…") },
    ], sites, { empty: "No sites yet: enrol a device or make an enrollment token for one." }));
    if (orgs) orgsBox.replaceChildren(table([
      { title: "Name", render: (o) => o.name },
      { title: "Id", render: (o) => h("code", {}, o.id) },
      { title: "", render: (o) => lifecycleButtons(o, { edit: () => editOrg(o), path: `/orgs/${o.id}`, what: `the organisation ${o.name}`, done: draw,
        deleteNote: "Only an empty organisation can be deleted; its audit trail stays." }) },
    ], orgs, { empty: "No organisations you manage." }));
    if (roles) rolesBox.replaceChildren(table([
      { title: "Name", render: (r) => r.name },
      { title: "Kind", render: (r) => (r.org_id ? "own" : "built-in") },
      { title: "Permissions", class: "wrap", render: (r) => r.permissions.join(", ") },
      { title: "", render: (r) => (r.org_id ? lifecycleButtons(r, { edit: () => editRole(r), path: `/roles/${r.id}`, what: `the role ${r.name}`, done: draw,
        deleteNote: "Only a role nobody holds can be deleted." }) : h("span", { class: "muted" }, "fixed")) },
    ], roles, { empty: "No roles." }));
  };

  // A site renamed (or merged into another) everywhere it is named.
  const renameSite = (s) => modal(`Rename site ${s.name}`, (close) => form([
    { name: "name", label: "New name", required: true, value: s.name, help: "Another site's name merges the two" },
  ], async (v) => {
    const done = await api(`/orgs/${s.org_id}/sites/${encodeURIComponent(s.name)}`, { method: "PATCH", body: { name: v.name } });
    const also = done.definitions.length ? `; also in ${done.definitions.join(", ")}` : "";
    toast(`Renamed ${s.name} to ${done.name}: ${done.devices} device${done.devices === 1 ? "" : "s"}${also}`);
    close();
    draw();
  }, { submitLabel: "Rename" }));

  // A new organisation, or `o` renamed.
  const editOrg = (o) => modal(o ? `Rename ${o.name}` : "New organisation", (close) => form([
    { name: "name", label: "Name", required: true, value: o?.name },
  ], async (v) => {
    if (o) await api(`/orgs/${o.id}`, { method: "PATCH", body: { name: v.name }, version: o.version });
    else await api("/orgs", { method: "POST", body: { name: v.name } });
    toast(o ? `Renamed to ${v.name}` : `Created ${v.name}`);
    close();
    draw();
  }));

  // A new role, or `r` edited: its name and permissions.
  const editRole = (r) => modal(r ? `Edit ${r.name}` : "New role", (close) => form([
    { name: "name", label: "Name", required: true, value: r?.name },
    { name: "permissions", label: "Permissions", type: "textarea", rows: 3, required: true, value: (r?.permissions || ["devices.view"]).join(", "),
      help: "Comma-separated, e.g. devices.view, scripts.run, alerts.acknowledge; never more than you hold" },
  ], async (v) => {
    const body = { name: v.name, permissions: list(v.permissions) };
    if (r) await api(`/roles/${r.id}`, { method: "PATCH", body, version: r.version });
    else await api("/roles", { method: "POST", body });
    toast(`Saved ${v.name}`);
    close();
    draw();
  }));

  await draw();
}
