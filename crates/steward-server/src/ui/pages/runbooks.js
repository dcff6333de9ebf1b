// Runbooks: documented procedures in Markdown, each edit a new version.
// The list, one runbook (rendered safely, its attachments, the scripts it
// offers, its versions), and a form to write or edit one.
import { api, h, table, timeTag, toast, link, form, modal } from "../lib.js";
import { markdown } from "../markdown.js";

const LISTS = [
  ["monitors", "Monitors (ids or names)"],
  ["alert_kinds", "Alert kinds (check, offline, threshold, …)"],
  ["scripts", "Scripts it documents"],
  ["problems", "Problems (ids or signatures)"],
  ["offers", "Scripts offered to run with one click"],
];

const split = (text) => String(text || "").split(",").map((s) => s.trim()).filter(Boolean);

function editor(current, done) {
  const fields = [
    { name: "title", label: "Title", value: current?.title || "", required: true },
    { name: "body", label: "Procedure (Markdown)", type: "textarea", value: current?.body || "" },
    ...LISTS.map(([name, label]) => ({ name, label: label + ", comma-separated", value: (current?.[name] || []).join(", ") })),
  ];
  return form(fields, async (values) => {
    const body = { title: values.title, body: values.body };
    for (const [name] of LISTS) body[name] = split(values[name]);
    const saved = current
      ? await api("/runbooks/" + current.id, { method: "PATCH", body, version: current.version })
      : await api("/runbooks", { method: "POST", body });
    toast(current ? `Saved version ${saved.version}` : "Runbook created");
    done(saved);
  }, { submitLabel: current ? "Save a new version" : "Create" });
}

export async function render(root, _parts, params) {
  const wanted = params.get("runbook");
  root.append(h("div", { class: "head" }, h("h1", {}, "Runbooks"),
    h("button", { class: "small", dataset: { action: "new-runbook" }, onclick: () => {
      modal("New runbook", (close) => editor(null, (saved) => { close(); location.hash = "#/runbooks?runbook=" + saved.id; }), { wide: true });
    } }, "New runbook")));
  const list = await api("/runbooks");
  root.append(table([
    { title: "Title", class: "wrap", render: (r) => link("#/runbooks?runbook=" + r.id, r.title) },
    { title: "Version", render: (r) => String(r.version) },
    { title: "Offers", render: (r) => r.offers.join(", ") || "–" },
    { title: "Saved", render: (r) => timeTag(r.updated_at) },
  ], list, { empty: "No runbooks yet.", onRow: (r) => (location.hash = "#/runbooks?runbook=" + r.id) }));
  if (wanted) {
    const one = await api("/runbooks/" + encodeURIComponent(wanted)).catch(() => null);
    if (one) root.append(await show(one));
  }
}

export function runbookCard(r, actions) {
  const attached = LISTS.slice(0, 4).flatMap(([name, label]) => (r[name].length ? [h("li", {}, `${label.split(" (")[0]}: ${r[name].join(", ")}`)] : []));
  return h("section", { class: "card runbook", dataset: { runbook: r.id } },
    h("h2", {}, r.title, " ", h("span", { class: "muted small" }, `version ${r.version} · ${r.updated_by}`)),
    markdown(r.body),
    attached.length ? h("ul", { class: "muted small" }, attached) : null,
    actions || null);
}

async function show(r) {
  const versions = await api(`/runbooks/${r.id}/versions`).catch(() => []);
  const box = h("div", { id: "runbook" });
  const edit = h("button", { class: "small", dataset: { action: "edit-runbook" }, onclick: () => {
    modal("Edit runbook", (close) => editor(r, async (saved) => {
      close();
      box.replaceWith(await show(saved));
    }), { wide: true });
  } }, "Edit");
  box.append(runbookCard(r, h("div", { class: "actions" }, edit)),
    h("section", { class: "card" }, h("h2", {}, "Versions"), table([
      { title: "Version", render: (v) => String(v.version) },
      { title: "Saved", render: (v) => timeTag(v.created_at) },
      { title: "By", render: (v) => v.created_by },
      { title: "Title", class: "wrap", render: (v) => v.definition.title },
    ], versions, {
      onRow: (v) => modal(`Version ${v.version}`, markdown(v.definition.body), { wide: true }),
    })));
  return box;
}
