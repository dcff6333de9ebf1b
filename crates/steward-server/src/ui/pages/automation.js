// Scripts, jobs (with live per-target progress and streamed output) and
// schedules; the "run a script" dialog every page uses.
import { api, h, table, pill, timeTag, when, toast, modal, form, link, duration, every, wsUrl, lifecycleButtons } from "../lib.js";

// --- running things ----------------------------------------------------------

// The inputs of a script's parameters, filled from `values` (else their
// defaults); read back with paramValues.
function paramInputs(def, values = {}) {
  return (def.params || []).map((p) => h("label", { class: "field" },
    h("span", { class: "label" }, `${p.name} (${p.kind})${p.required ? " *" : ""}`),
    h("input", { name: "param:" + p.name, value: values[p.name] ?? p.default ?? "", required: p.required, pattern: p.kind === "int" ? "-?[0-9]+" : p.kind === "bool" ? "true|false" : null })));
}
const paramValues = (box) => Object.fromEntries([...box.querySelectorAll("input[name^='param:']")].map((i) => [i.name.slice(6), i.value]));

// Asks which script (and its parameters) to run on `targets`, creates the
// job and opens its page.
export async function runDialog(targets, label) {
  const scripts = await api("/scripts");
  await modal(`Run a script on ${label}`, (close) => {
    if (!scripts.length) return h("p", {}, "The script library is empty. ", link("#/scripts", "Add a script"), " first.");
    const params = h("div", { class: "form" });
    const picker = h("select", { name: "script", "aria-label": "Script" }, scripts.map((s) => h("option", { value: s.name }, `${s.name} (v${s.version})`)));
    const drawParams = () => {
      const def = scripts.find((s) => s.name === picker.value)?.definition || {};
      params.replaceChildren(...paramInputs(def));
    };
    picker.addEventListener("change", drawParams);
    drawParams();
    const error = h("p", { class: "form-error", hidden: true });
    const expires = h("select", { name: "expires_in", "aria-label": "Offline devices may run it within" },
      [["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"]].map(([v, t]) => h("option", { value: v, selected: v === "24h" }, t)));
    const concurrency = h("input", { type: "number", name: "concurrency", min: 0, value: 0, "aria-label": "At most this many at once (0: no limit)" });
    const run = h("button", { class: "primary", type: "submit" }, "Run");
    const f = h("form", { class: "form" },
      h("label", { class: "field" }, h("span", { class: "label" }, "Script"), picker), params,
      h("label", { class: "field" }, h("span", { class: "label" }, "Offline devices may run it within"), expires),
      h("label", { class: "field" }, h("span", { class: "label" }, "At most this many at once (0: no limit)"), concurrency),
      error, h("div", { class: "form-actions" }, run));
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!f.checkValidity()) { error.textContent = f.querySelector(":invalid").validationMessage; error.hidden = false; return; }
      const values = paramValues(params);
      run.disabled = true;
      try {
        const job = await api("/jobs", { method: "POST", body: { script: picker.value, params: values, targets, expires_in: expires.value, concurrency: Number(concurrency.value) || 0 } });
        toast(job.state === "pending_approval" ? `Job waits for a second person's approval (${job.targets} devices)` : `Job started on ${job.targets} device${job.targets === 1 ? "" : "s"}`);
        close();
        location.hash = "#/job/" + job.id;
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      } finally { run.disabled = false; }
    });
    return f;
  }, { wide: false });
}

// A built-in action on one device (reboot, restart a service).
export async function runAction(d, action, question) {
  if (question && !window.confirm(question)) return;
  try {
    const job = await api("/jobs", { method: "POST", body: { action, targets: ["device:" + d.id], name: `${action.kind} ${d.name}` } });
    toast(`${action.kind.replace("_", " ")} sent to ${d.name}`);
    location.hash = "#/job/" + job.id;
  } catch (e) { toast(e.message, "error"); }
}

// --- scripts ---------------------------------------------------------------

export async function scripts(root) {
  root.append(h("div", { class: "head" }, h("h1", {}, "Scripts"), h("button", { class: "primary", onclick: () => edit() }, "New script")));
  const list = h("div");
  root.append(list);
  const draw = async () => {
    const all = await api("/scripts");
    list.replaceChildren(table([
      { title: "Name", render: (s) => s.name },
      { title: "Interpreter", render: (s) => s.definition.interpreter },
      { title: "Description", class: "wrap", render: (s) => s.definition.description || "" },
      { title: "Version", class: "num", render: (s) => "v" + s.version },
      { title: "Changed", render: (s) => h("span", {}, timeTag(s.updated_at), " by ", s.updated_by) },
      { title: "", render: (s) => h("div", { class: "actions" },
        h("button", { class: "small primary", onclick: () => runDialog(["all"], "every device") }, "Run on all…"),
        lifecycleButtons(s, { edit: () => edit(s), path: `/scripts/${s.id}`, what: `the script ${s.name}`, done: draw,
          deleteNote: "Its versions go too; jobs that ran it keep their record." })) },
    ], all, { empty: "No scripts yet. Scripts run signed, on the devices you choose." }));
  };
  const edit = (s) => modal(s ? `Edit ${s.name}` : "New script", (close) => {
    const def = s?.definition || { interpreter: "sh", timeout_secs: 300, params: [] };
    return form([
      { name: "name", label: "Name", required: true, value: def.name, pattern: "[A-Za-z0-9._ \\-]{1,64}" },
      { name: "description", label: "Description", value: def.description },
      { name: "interpreter", label: "Interpreter", type: "select", value: def.interpreter, options: [["sh", "sh"], ["bash", "bash"], ["python3", "python3"], ["powershell", "powershell"], ["zsh", "zsh"]] },
      { name: "timeout_secs", label: "Timeout (seconds)", type: "number", min: 1, max: 86400, value: def.timeout_secs },
      { name: "body", label: "Script", type: "textarea", required: true, value: def.body, rows: 12 },
      { name: "params", label: "Parameters (JSON)", type: "textarea", rows: 3, value: JSON.stringify(def.params || []), help: 'e.g. [{"name": "path", "kind": "string", "required": true}]; they arrive as STEWARD_PARAM_<NAME>' },
    ], async (v) => {
      let params;
      try { params = JSON.parse(v.params || "[]"); } catch (e) { throw new Error("Parameters: not valid JSON (" + e.message + ")"); }
      const script = { name: v.name, description: v.description, interpreter: v.interpreter, timeout_secs: v.timeout_secs, body: v.body, params };
      // An edit is the next version of the one read (412 if someone saved since).
      if (s) await api(`/scripts/${s.id}`, { method: "PATCH", body: script, version: s.version });
      else await api("/scripts", { method: "POST", body: { script } });
      toast(`Saved ${v.name}`);
      close();
      draw();
    });
  }, { wide: true });
  await draw();
}

// --- jobs --------------------------------------------------------------------

export async function jobs(root) {
  root.append(h("h1", {}, "Jobs"));
  const list = h("div");
  root.append(list);
  const draw = async () => {
    const all = await api("/jobs?limit=200");
    list.replaceChildren(table([
      { title: "Job", render: (j) => link("#/job/" + j.id, j.name) },
      { title: "State", render: (j) => pill(j.state === "active" ? j.progress || j.state : j.state) },
      { title: "Runs", render: (j) => counts(j.counts) },
      { title: "By", render: (j) => j.created_by },
      { title: "Created", render: (j) => timeTag(j.created_at) },
    ], all, { empty: "No jobs yet.", onRow: (j) => (location.hash = "#/job/" + j.id) }));
  };
  await draw();
  return every(3000, draw);
}

const counts = (c) => h("span", { class: "actions" }, Object.entries(c || {}).map(([k, v]) => pill(`${v} ${k}`, k)));

export async function job(root, parts, _params, ctx) {
  const id = parts[0];
  const head = h("div");
  const runsBox = h("div", { id: "runs" });
  root.append(h("p", { class: "small" }, link("#/jobs", "← Jobs")), head, h("h2", {}, "Targets"), runsBox);
  const live = new Map(); // run id → {stdout, stderr}
  let data;
  const draw = async () => {
    data = await api("/jobs/" + id);
    for (const run of data.runs) if (run.status !== "running") live.delete(run.run_id);
    head.replaceChildren(
      h("div", { class: "head" }, h("h1", {}, data.name), pill(data.state === "active" ? data.progress : data.state), counts(data.counts),
        data.state === "pending_approval" ? h("button", { class: "primary small", onclick: () => act("approve") }, "Approve") : null,
        ["running", "pending_approval", "queued"].includes(data.progress || data.state) ? h("button", { class: "danger small", onclick: () => act("cancel") }, "Cancel") : null),
      h("p", { class: "muted" }, `Created ${when(data.created_at)} by ${data.created_by}` + (data.approved_by ? `, approved by ${data.approved_by}` : "") + ` · offline devices may run it until ${when(data.expires_at)}`));
    runsBox.replaceChildren(...data.runs.map(runCard));
  };
  const runCard = (r) => {
    const out = live.get(r.run_id) || { stdout: r.stdout, stderr: r.stderr };
    return h("section", { class: "card run", dataset: { run: r.run_id, device: r.device_id, status: r.status } },
      h("div", { class: "head" }, h("strong", {}, link("#/device/" + r.device_id, r.device_name)), pill(r.status),
        r.exit_code !== null && r.exit_code !== undefined ? h("span", { class: "muted" }, "exit " + r.exit_code) : null,
        h("span", { class: "muted" }, duration(r.duration_ms)), r.truncated ? h("span", { class: "muted" }, "output truncated at 64 KiB") : null),
      r.message ? h("p", { class: "muted" }, r.message) : null,
      out.stdout ? h("pre", { class: "stdout" }, out.stdout) : null,
      out.stderr ? h("pre", { class: "stderr" }, out.stderr) : null);
  };
  const act = async (what) => {
    try { await api(`/jobs/${id}/${what}`, { method: "POST", body: {} }); toast(`Job ${what === "approve" ? "approved" : "cancelled"}`); draw(); } catch (e) { toast(e.message, "error"); }
  };
  await draw();
  // Live output and status over the job's WebSocket; polling as a fallback.
  const socket = new WebSocket(wsUrl(`/jobs/${id}/events`));
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "output") {
      const out = live.get(event.run_id) || { stdout: "", stderr: "" };
      if (!live.has(event.run_id)) {
        const run = data.runs.find((r) => r.run_id === event.run_id);
        if (run) { out.stdout = run.stdout; out.stderr = run.stderr; }
        live.set(event.run_id, out);
      }
      out[event.stream === "stderr" ? "stderr" : "stdout"] += event.data;
      const run = data.runs.find((r) => r.run_id === event.run_id);
      if (run) { const card = runsBox.querySelector(`[data-run="${event.run_id}"]`); card?.replaceWith(runCard(run)); }
    } else if (event.type === "status") {
      draw();
    }
  };
  const stop = every(3000, draw);
  ctx.onFleet(() => {});
  return () => { stop(); socket.close(); };
}

// --- schedules -----------------------------------------------------------------

export async function schedules(root) {
  root.append(h("div", { class: "head" }, h("h1", {}, "Schedules"), h("button", { class: "primary", onclick: () => create() }, "New schedule")));
  const list = h("div");
  root.append(list);
  const draw = async () => {
    const all = await api("/schedules");
    list.replaceChildren(table([
      { title: "Name", render: (s) => s.name },
      { title: "When", render: (s) => s.timing.cron ? `cron ${s.timing.cron} (${s.timing.timezone || "UTC"})` : `every ${s.timing.every_minutes} min` },
      { title: "Runs", render: (s) => s.job.script || s.job.action?.kind || "?" },
      { title: "On", render: (s) => (s.job.targets || []).join(", ") },
      { title: "Next", render: (s) => when(s.next_run_at) },
      { title: "Last", render: (s) => (s.last_run_at ? timeTag(s.last_run_at) : "never") },
      { title: "", render: (s) => lifecycleButtons(s, { edit: () => create(s), path: `/schedules/${s.id}`, what: `the schedule ${s.name}`, done: draw,
        offNote: "It does not run until it is enabled again." }) },
    ], all, { empty: "No schedules yet.", rowClass: (s) => (s.enabled === false ? "disabled" : null) }));
  };
  // A new schedule, or `s` edited (PATCH under its version).
  const create = async (s) => {
    const scriptList = await api("/scripts");
    const t = s?.timing || {};
    let closeDialog = () => {};
    const f = form([
      { name: "name", label: "Name", required: true, value: s?.name },
      { name: "script", label: "Script", type: "select", required: true, value: s?.job?.script, options: scriptList.map((x) => [x.name, x.name]) },
      { name: "targets", label: "Targets", required: true, value: s ? (s.job.targets || []).join(", ") : "all", help: "Comma-separated: all, tag:web, site:hq, os:debian, device:ID" },
      { name: "cron", label: "Cron expression", placeholder: "0 3 * * 1-5", value: t.cron, help: "Minute hour day month weekday; or leave empty and give minutes below" },
      { name: "tz", label: "Time zone", value: t.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" },
      { name: "every_minutes", label: "Or every N minutes", type: "number", min: 1, value: t.every_minutes },
      { name: "missed", label: "When a run was missed (server down)", type: "select", value: t.missed, options: [["skip", "skip it"], ["run_once", "run once on start"]] },
    ], async (v) => {
      const timing = v.cron ? { cron: v.cron, timezone: v.tz, missed: v.missed } : { every_minutes: v.every_minutes, missed: v.missed };
      if (!v.cron && !v.every_minutes) throw new Error("Give a cron expression or a number of minutes.");
      const targets = v.targets.split(",").map((x) => x.trim()).filter(Boolean);
      // A schedule of a built-in action (ping, …) keeps its action.
      const job = s?.job?.action ? { ...s.job, targets } : { ...(s?.job || {}), script: v.script, targets, params: paramValues(params) };
      const body = { name: v.name, timing, job };
      if (s) {
        await api(`/schedules/${s.id}`, { method: "PATCH", body, version: s.version });
      } else {
        await api("/schedules", { method: "POST", body });
      }
      toast(s ? `Saved ${v.name}` : `Scheduled ${v.name}`);
      closeDialog();
      draw();
    });
    // The chosen script's parameters, under its picker (the saved values
    // while it stays the schedule's script).
    const params = h("div", { class: "form" });
    const picker = f.elements.script;
    const drawParams = () => {
      const def = scriptList.find((x) => x.name === picker.value)?.definition || {};
      params.replaceChildren(...paramInputs(def, picker.value === s?.job?.script ? s.job.params || {} : {}));
    };
    picker.closest("label").after(params);
    picker.addEventListener("change", drawParams);
    drawParams();
    await modal(s ? `Edit ${s.name}` : "New schedule", (close) => { closeDialog = close; return f; }, { wide: true });
  };
  await draw();
}
