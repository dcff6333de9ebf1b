// Monitors, notification channels (with "send test"), enrollment tokens
// (with the install command), users and API tokens, the audit log.
import { api, h, table, pill, timeTag, when, toast, modal, form, copyButton } from "../lib.js";

const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);

// --- monitors --------------------------------------------------------------

const TEMPLATES = {
  threshold: { kind: "threshold", metric: "system.filesystem.utilization", labels: {}, threshold: { direction: "above", warning: { trigger: 0.85, clear: 0.8 }, critical: { trigger: 0.95, clear: 0.9 }, for_ms: 300000 } },
  forecast: { kind: "forecast", metric: "system.filesystem.utilization", capacity: 1.0, horizon_ms: 7 * 86400000, window_ms: 86400000 },
  offline: { kind: "offline" },
  check: { kind: "check", check: "check_disk" },
};

export async function monitors(root) {
  root.append(h("div", { class: "head" }, h("h1", {}, "Monitors"), h("button", { class: "primary", onclick: () => create() }, "New monitor")));
  const box = h("div");
  root.append(box);
  const draw = async () => {
    const all = await api("/monitors");
    box.replaceChildren(table([
      { title: "Name", render: (m) => m.name },
      { title: "Kind", render: (m) => m.definition.spec?.kind || "?" },
      { title: "Watches", class: "wrap", render: (m) => describeSpec(m.definition.spec || {}) },
      { title: "Applies to", render: (m) => matcher(m.definition.applies_to) },
      { title: "Self-healing", render: (m) => (m.definition.remediation ? `runs ${m.definition.remediation.script}` : "–") },
      { title: "", render: (m) => h("button", { class: "small danger", onclick: async () => { if (confirm(`Delete the monitor ${m.name}?`)) { await api(`/monitors/${m.id}/delete`, { method: "POST", body: {} }); toast("Deleted " + m.name); draw(); } } }, "Delete") },
    ], all, { empty: "No monitors." }));
  };
  const create = () => modal("New monitor", (close) => {
    const f = form([
      { name: "name", label: "Name", required: true },
      { name: "template", label: "Kind", type: "select", value: "threshold", options: [["threshold", "Threshold: a metric beyond a level for a while"], ["forecast", "Forecast: a metric heading for its capacity"], ["offline", "Offline: the device stopped reporting"], ["check", "Check: a local script check"]] },
      { name: "spec", label: "Definition (JSON)", type: "textarea", rows: 10, required: true, value: JSON.stringify(TEMPLATES.threshold, null, 2) },
      { name: "tags", label: "Only devices with these tags", help: "Comma-separated; empty: every device" },
      { name: "remediation", label: "Self-healing script (optional)", help: "A script of the library, run on the device before anyone is paged" },
    ], async (v) => {
      let spec;
      try { spec = JSON.parse(v.spec); } catch (e) { throw new Error("Definition: not valid JSON (" + e.message + ")"); }
      const body = { name: v.name, spec, applies_to: { tags: list(v.tags) } };
      if (v.remediation) body.remediation = { script: v.remediation };
      await api("/monitors", { method: "POST", body });
      toast("Saved " + v.name);
      close();
      draw();
    });
    f.elements.template.addEventListener("change", () => { f.elements.spec.value = JSON.stringify(TEMPLATES[f.elements.template.value], null, 2); });
    return f;
  }, { wide: true });
  await draw();
}

function describeSpec(s) {
  const levels = (t) => [t?.warning ? `warning ≥ ${t.warning.trigger}` : null, t?.critical ? `critical ≥ ${t.critical.trigger}` : null].filter(Boolean).join(", ");
  switch (s.kind) {
    case "threshold": return `${s.metric} ${s.threshold?.direction || ""} (${levels(s.threshold)}) for ${Math.round((s.threshold?.for_ms || 0) / 1000)} s`;
    case "forecast": return `${s.metric} reaching ${s.capacity} within ${Math.round(s.horizon_ms / 3600000)} h`;
    case "offline": return "device offline";
    case "check": return `check ${s.check}`;
    default: return JSON.stringify(s);
  }
}

const matcher = (m) => {
  if (!m) return "all devices";
  const parts = [...(m.tags || []).map((t) => "tag " + t), ...(m.sites || []).map((s) => "site " + s), ...(m.os || []).map((o) => "os " + o), ...(m.devices || []).map((d) => "device " + d.slice(0, 8))];
  return parts.join(", ") || "all devices";
};

// --- channels --------------------------------------------------------------

export async function channels(root) {
  root.append(h("div", { class: "head" }, h("h1", {}, "Notification channels"), h("button", { class: "primary", onclick: () => create() }, "New channel")));
  const box = h("div");
  root.append(box);
  const draw = async () => {
    const all = await api("/channels");
    box.replaceChildren(table([
      { title: "Name", render: (c) => c.name },
      { title: "Kind", render: (c) => c.kind },
      { title: "From severity", render: (c) => c.min_severity },
      { title: "Waiting", class: "num", render: (c) => String(c.pending) },
      { title: "Last error", class: "wrap", render: (c) => (c.last_error ? h("span", { class: "pill failed" }, c.last_error) : "–") },
      { title: "", render: (c) => h("button", { class: "small", dataset: { test: c.name }, onclick: (e) => test(c, e.target) }, "Send test") },
    ], all, { empty: "No channels: alerts are recorded but nobody is told." }));
  };
  const test = async (c, button) => {
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const result = await api(`/channels/${c.id}/test`, { method: "POST", body: {} });
      if (result.delivered) toast(`Test message delivered through ${c.name}`);
      else toast(`${c.name} did not take the test message: ${result.error}`, "error");
    } catch (e) { toast(e.message, "error"); }
    button.disabled = false;
    button.textContent = "Send test";
  };
  const create = () => modal("New notification channel", (close) => {
    const f = form([
      { name: "name", label: "Name", required: true },
      { name: "kind", label: "Kind", type: "select", value: "webhook", options: [["webhook", "Webhook (signed JSON)"], ["slack", "Slack incoming webhook"], ["teams", "Microsoft Teams incoming webhook"], ["email", "Email (SMTP)"]] },
      { name: "url", label: "URL", type: "url", placeholder: "https://…" },
      { name: "secret", label: "Signing secret (webhook)", type: "password" },
      { name: "smtp_host", label: "SMTP host (email)" },
      { name: "smtp_port", label: "SMTP port", type: "number", min: 1, max: 65535 },
      { name: "from", label: "From (email)" },
      { name: "to", label: "To (email, comma-separated)" },
      { name: "username", label: "SMTP username" },
      { name: "password", label: "SMTP password", type: "password" },
      { name: "min_severity", label: "From severity", type: "select", value: "warning", options: [["warning", "warning"], ["critical", "critical"]] },
      { name: "tags", label: "Only devices with these tags", help: "Comma-separated; empty: every device" },
    ], async (v) => {
      const body = { name: v.name, kind: v.kind, min_severity: v.min_severity, tags: list(v.tags) };
      if (v.kind === "email") Object.assign(body, { smtp_host: v.smtp_host, smtp_port: v.smtp_port, from: v.from, to: list(v.to), username: v.username || undefined, password: v.password || undefined });
      else Object.assign(body, { url: v.url, secret: v.secret || undefined });
      await api("/channels", { method: "POST", body });
      toast("Saved " + v.name);
      close();
      draw();
    });
    const kind = f.elements.kind;
    const sync = () => {
      const email = kind.value === "email";
      for (const name of ["smtp_host", "smtp_port", "from", "to", "username", "password"]) f.elements[name].closest("label").hidden = !email;
      f.elements.url.closest("label").hidden = email;
      f.elements.url.required = !email;
      f.elements.secret.closest("label").hidden = kind.value !== "webhook";
    };
    kind.addEventListener("change", sync);
    sync();
    return f;
  }, { wide: true });
  await draw();
}

// --- enrollment ------------------------------------------------------------

export async function enrollment(root) {
  root.append(h("h1", {}, "Enrollment"),
    h("p", { class: "muted" }, "An enrollment token lets new agents join: it pins this server's certificate authority and carries the site and tags they get."));
  const created = h("div", { id: "new-token" });
  const orgs = await api("/orgs").catch(() => []);
  const f = form([
    orgs.length > 1 ? { name: "org", label: "Organisation", type: "select", options: orgs.map((o) => [o.name, o.name]) } : null,
    { name: "site", label: "Site", value: "default", required: true },
    { name: "tags", label: "Tags", help: "Comma-separated" },
    { name: "uses", label: "Uses", type: "number", min: 1, value: 10, help: "How many agents may enroll with it" },
    { name: "expires_in", label: "Valid for", type: "select", value: "24h", options: [["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]] },
  ].filter(Boolean), async (v) => {
    const token = await api("/enroll-tokens", { method: "POST", body: { org: v.org, site: v.site, tags: list(v.tags), uses: v.uses, expires_in: v.expires_in } });
    const command = "sudo " + token.install_command;
    created.replaceChildren(h("section", { class: "card" },
      h("h2", {}, "Install command"),
      h("p", {}, `Run this on the endpoint (after copying the steward-agent binary to it). The token works ${token.uses_left ?? "any number of"} time(s) until ${when(token.expires_at)}; it is shown only now.`),
      h("div", { class: "command" }, h("pre", { id: "install-command" }, command), copyButton(command)),
      h("p", { class: "muted small" }, "Then start the agent: steward-agent --state-dir /var/lib/steward-agent run (or the systemd unit in the README).")));
    draw();
  }, { submitLabel: "Create token", class: "inline" });
  const box = h("div");
  root.append(f, created, h("h2", {}, "Tokens"), box);
  const draw = async () => {
    const all = await api("/enroll-tokens");
    box.replaceChildren(table([
      { title: "Site", render: (t) => t.site },
      { title: "Tags", render: (t) => t.tags.join(", ") },
      { title: "Uses left", class: "num", render: (t) => (t.uses_left ?? "∞") },
      { title: "Created", render: (t) => timeTag(t.created_at) },
      { title: "Expires", render: (t) => when(t.expires_at) },
      { title: "State", render: (t) => pill(t.revoked ? "revoked" : t.expires_at * 1000 < Date.now() ? "expired" : t.uses_left === 0 ? "used up" : "active", t.revoked || t.expires_at * 1000 < Date.now() ? "revoked" : "online") },
      { title: "", render: (t) => (t.revoked ? "" : h("button", { class: "small danger", onclick: async () => { await api(`/enroll-tokens/${t.id}/revoke`, { method: "POST", body: {} }); toast("Token revoked"); draw(); } }, "Revoke")) },
    ], all, { empty: "No tokens yet." }));
  };
  await draw();
}

// --- users and API tokens --------------------------------------------------

export async function users(root, _parts, _params, ctx) {
  root.append(h("h1", {}, "Users and API tokens"));
  const usersBox = h("div");
  const tokensBox = h("div");
  const secret = h("div");
  const roles = await api("/roles").catch(() => []);
  const roleOptions = roles.map((r) => [r.id, r.name]);
  root.append(
    h("div", { class: "head" }, h("h2", {}, "Users"), h("button", { class: "small primary", onclick: () => newUser() }, "New user")), usersBox,
    h("div", { class: "head" }, h("h2", {}, `Your API tokens (${ctx.me.username})`), h("button", { class: "small primary", onclick: () => newToken() }, "New token")), secret, tokensBox);
  const draw = async () => {
    const [people, tokens] = await Promise.all([api("/users").catch((e) => { usersBox.replaceChildren(h("p", { class: "muted" }, e.message)); return null; }), api("/tokens")]);
    if (people) usersBox.replaceChildren(table([
      { title: "Username", render: (u) => u.username },
      { title: "Two-factor", render: (u) => (u.totp_enabled ? pill("on", "ok") : pill("off", "warning")) },
      { title: "Id", render: (u) => h("code", {}, u.id) },
    ], people));
    tokensBox.replaceChildren(table([
      { title: "Name", render: (t) => t.name },
      { title: "Role", render: (t) => t.role_id || "all of yours" },
      { title: "Created", render: (t) => timeTag(t.created_at) },
      { title: "Expires", render: (t) => (t.expires_at ? when(t.expires_at) : "never") },
      { title: "State", render: (t) => pill(t.revoked ? "revoked" : "active", t.revoked ? "revoked" : "online") },
      { title: "", render: (t) => (t.revoked ? "" : h("button", { class: "small danger", onclick: async () => { await api(`/tokens/${t.id}/revoke`, { method: "POST", body: {} }); toast("Token revoked"); draw(); } }, "Revoke")) },
    ], tokens, { empty: "No API tokens." }));
  };
  const newUser = () => modal("New user", (close) => form([
    { name: "username", label: "Username", required: true, pattern: "[A-Za-z0-9._@-]{1,64}" },
    { name: "password", label: "Password", type: "password", required: true, min: null, help: "At least 12 characters", pattern: ".{12,}" },
    { name: "role", label: "Role", type: "select", value: "technician", options: roleOptions },
    { name: "site", label: "Only this site", help: "Empty: the whole organisation" },
  ], async (v) => {
    await api("/users", { method: "POST", body: { username: v.username, password: v.password, role: v.role, site: v.site || undefined } });
    toast("Created " + v.username);
    close();
    draw();
  }));
  const newToken = () => modal("New API token", (close) => form([
    { name: "name", label: "Name", required: true, placeholder: "backup script" },
    { name: "role", label: "Role", type: "select", value: "", options: [["", "all of my permissions"], ...roleOptions] },
    { name: "expires_in", label: "Expires in", type: "select", value: "90d", options: [["7d", "7 days"], ["30d", "30 days"], ["90d", "90 days"], ["365d", "1 year"]] },
  ], async (v) => {
    const t = await api("/tokens", { method: "POST", body: { name: v.name, role: v.role || undefined, expires_in: v.expires_in } });
    close();
    secret.replaceChildren(h("section", { class: "card" }, h("p", {}, "The token, shown only now:"),
      h("div", { class: "command" }, h("pre", {}, t.token), copyButton(t.token))));
    draw();
  }));
  await draw();
}

// --- audit -----------------------------------------------------------------

export async function audit(root) {
  root.append(h("h1", {}, "Audit log"), h("p", { class: "muted" }, "Every change and every remote session, newest first. The log is hash-chained: an edit breaks the chain (steward audit verify)."));
  const box = h("div");
  const more = h("button", { class: "small" }, "Older entries");
  root.append(box, h("div", { class: "pager" }, more));
  let entries = [];
  const load = async (before) => {
    const page = await api(`/audit?before=${before}&limit=200`);
    entries = entries.concat(page);
    more.hidden = page.length < 200;
    box.replaceChildren(table([
      { title: "When", render: (e) => when(e.at) },
      { title: "Who", render: (e) => e.actor },
      { title: "From", render: (e) => e.source },
      { title: "Action", render: (e) => h("code", {}, e.action) },
      { title: "Target", render: (e) => e.target },
      { title: "Detail", class: "wrap", render: (e) => h("code", { class: "small" }, e.detail) },
    ], entries, { empty: "Nothing recorded yet." }));
  };
  more.addEventListener("click", () => load(entries.length ? entries[entries.length - 1].id : Number.MAX_SAFE_INTEGER));
  await load(Number.MAX_SAFE_INTEGER);
}
