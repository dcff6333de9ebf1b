// The device list: searched, filtered, sorted and paged by the server, so it
// stays fast at any fleet size. Filters live in the URL (links from the
// dashboard land on the filtered list). Bulk: tag, run a job.
import { api, h, table, pill, meter, timeTag, debounce, toast, modal, form } from "../lib.js";
import { runDialog } from "./automation.js";

const FILTERS = ["q", "status", "os", "org", "site", "tag", "alerts", "failing_checks", "forecast", "missing_updates", "sort", "desc", "offset", "limit"];

export async function render(root, _parts, params, ctx) {
  const query = Object.fromEntries(FILTERS.filter((k) => params.get(k)).map((k) => [k, params.get(k)]));
  const selected = new Set();
  const orgs = await api("/orgs").catch(() => []);

  const setQuery = (changes, keepOffset) => {
    Object.assign(query, changes);
    if (!keepOffset) delete query.offset;
    for (const [k, v] of Object.entries(query)) if (v === "" || v === undefined || v === null) delete query[k];
    const text = new URLSearchParams(query).toString();
    history.replaceState(null, "", "#/devices" + (text ? "?" + text : ""));
    load();
  };

  const search = h("input", { type: "search", name: "q", placeholder: "Name, hostname, OS, tag…", value: query.q || "", "aria-label": "Search devices" });
  search.addEventListener("input", debounce(() => setQuery({ q: search.value.trim() }), 250));
  const select = (name, label, options) => {
    const el = h("select", { name, "aria-label": label }, h("option", { value: "" }, label + ": any"),
      options.map(([v, t]) => h("option", { value: v, selected: query[name] === v }, t)));
    el.addEventListener("change", () => setQuery({ [name]: el.value }));
    return el;
  };
  const textFilter = (name, label) => {
    const el = h("input", { name, placeholder: label, value: query[name] || "", size: 10, "aria-label": label });
    el.addEventListener("input", debounce(() => setQuery({ [name]: el.value.trim() }), 300));
    return el;
  };
  const checks = h("label", { class: "check" }, h("input", { type: "checkbox", checked: query.failing_checks === "true", onchange: (e) => setQuery({ failing_checks: e.target.checked ? "true" : "" }) }), "Failing checks");
  const forecast = h("label", { class: "check" }, h("input", { type: "checkbox", checked: query.forecast === "true", onchange: (e) => setQuery({ forecast: e.target.checked ? "true" : "" }) }), "Forecast to fill");

  const updates = h("label", { class: "check" }, h("input", { type: "checkbox", checked: query.missing_updates === "true", onchange: (e) => setQuery({ missing_updates: e.target.checked ? "true" : "" }) }), "Missing updates");
  const count = h("span", { class: "muted", id: "device-count" });
  const bulk = h("div", { class: "toolbar bulk", hidden: true });
  const listBox = h("div", { id: "device-list" });
  const pager = h("div", { class: "pager" });
  root.append(
    h("div", { class: "head" }, h("h1", {}, "Devices"), count),
    h("div", { class: "toolbar" }, search,
      select("status", "Status", [["online", "Online"], ["offline", "Offline"]]),
      textFilter("os", "OS"),
      orgs.length > 1 ? select("org", "Organisation", orgs.map((o) => [o.id, o.name])) : null,
      textFilter("site", "Site"), textFilter("tag", "Tag"),
      select("alerts", "Alerts", [["any", "With alerts"], ["critical", "With critical alerts"], ["none", "Without alerts"]]),
      checks, forecast, updates),
    bulk, listBox, pager);

  let page = { total: 0, items: [] };
  let controller;
  async function load() {
    controller?.abort();
    controller = new AbortController();
    const started = performance.now();
    try {
      page = await api("/fleet/devices?" + new URLSearchParams({ limit: "50", ...query }), { signal: controller.signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      throw error;
    }
    draw();
    listBox.dataset.loadedMs = String(Math.round(performance.now() - started));
  }

  function draw() {
    const limit = Number(query.limit || 50);
    const offset = Number(query.offset || 0);
    count.textContent = `${page.total.toLocaleString()} device${page.total === 1 ? "" : "s"}`;
    const all = h("input", { type: "checkbox", "aria-label": "Select all on this page", checked: page.items.length > 0 && page.items.every((d) => selected.has(d.id)) });
    all.addEventListener("change", () => { for (const d of page.items) all.checked ? selected.add(d.id) : selected.delete(d.id); draw(); });
    const sort = { key: query.sort || "name", desc: query.desc === "true" };
    const onSort = (key) => setQuery({ sort: key, desc: sort.key === key && !sort.desc ? "true" : "" });
    const columns = [
      { title: all, render: (d) => h("input", { type: "checkbox", "aria-label": "Select " + d.name, checked: selected.has(d.id), onchange: (e) => { e.target.checked ? selected.add(d.id) : selected.delete(d.id); drawBulk(); } }) },
      { title: "Name", sort: "name", render: (d) => h("a", { href: "#/device/" + d.id, class: "device-name" }, d.name) },
      { title: "Status", sort: "status", render: (d) => pill(d.revoked ? "revoked" : d.status) },
      { title: "Alerts", sort: "alerts", class: "num", render: (d) => (d.open_alerts ? pill(String(d.open_alerts), "critical") : "") },
      { title: "Hostname", sort: "hostname", render: (d) => d.hostname },
      { title: "OS", sort: "os", render: (d) => d.os || "–" },
      { title: "Site", sort: "site", render: (d) => d.site },
      { title: "Tags", render: (d) => d.tags.join(", ") },
      { title: "CPU", sort: "cpu", render: (d) => meter(d.cpu_utilization) },
      { title: "Memory", sort: "memory", render: (d) => meter(d.memory_utilization) },
      { title: "Fullest disk", sort: "disk", render: (d) => meter(d.disk_utilization) },
      { title: "Last seen", sort: "last_seen", render: (d) => timeTag(d.last_seen) },
    ];
    listBox.replaceChildren(table(columns, page.items, {
      sort, onSort, rowClass: () => "device",
      empty: Object.keys(query).length ? "No device matches these filters." : "No devices yet: create an enrollment token to add one.",
      onRow: (d) => (location.hash = "#/device/" + d.id),
    }));
    const pages = Math.max(1, Math.ceil(page.total / limit));
    const current = Math.floor(offset / limit) + 1;
    pager.replaceChildren(
      h("button", { class: "small", disabled: offset === 0, onclick: () => setQuery({ offset: String(Math.max(0, offset - limit)) }, true) }, "‹ Previous"),
      h("span", {}, `Page ${current} of ${pages}`),
      h("button", { class: "small", disabled: offset + limit >= page.total, onclick: () => setQuery({ offset: String(offset + limit) }, true) }, "Next ›"),
      h("select", { "aria-label": "Rows per page", onchange: (e) => setQuery({ limit: e.target.value }) },
        ["25", "50", "100", "250"].map((n) => h("option", { value: n, selected: String(limit) === n }, n + " per page"))));
    drawBulk();
  }

  function drawBulk() {
    bulk.hidden = selected.size === 0;
    const ids = [...selected];
    bulk.replaceChildren(
      h("strong", {}, `${ids.length} selected`),
      h("button", { class: "small", onclick: () => tagDialog(ids, "add") }, "Add tag"),
      h("button", { class: "small", onclick: () => tagDialog(ids, "remove") }, "Remove tag"),
      h("button", { class: "small primary", onclick: () => runDialog(ids.map((id) => "device:" + id), `${ids.length} devices`) }, "Run script…"),
      h("button", { class: "small", onclick: () => { selected.clear(); draw(); } }, "Clear"));
  }

  async function tagDialog(ids, mode) {
    await modal(mode === "add" ? "Add a tag" : "Remove a tag", (close) => form(
      [{ name: "tag", label: "Tag", required: true, pattern: "[A-Za-z0-9_.:\\/\\-]{1,64}", help: "Letters, digits and - _ . : /" }],
      async ({ tag }) => {
        const result = await api("/devices/tags", { method: "POST", body: { devices: ids, [mode]: [tag] } });
        toast(`${result.changed} device${result.changed === 1 ? "" : "s"} changed`);
        close();
        load();
      }, { submitLabel: mode === "add" ? "Add" : "Remove" }));
  }

  await load();
  ctx.onFleet(() => load());
  return () => controller?.abort();
}
