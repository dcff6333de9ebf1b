// The console's shell: sign-in (password, and a two-factor code field
// offered after any refusal: the server answers every failed sign-in alike,
// so that it never tells a right password from a wrong one), session expiry, navigation by URL hash, live updates
// from /api/v1/events, light and dark themes.
import { api, h, $, onUnauthorized, onMfaSetupRequired, parseHash, errorBox, wsUrl, form, toast, holds, needsPermission, modal } from "./lib.js";
import * as dashboard from "./pages/dashboard.js";
import * as devices from "./pages/devices.js";
import * as device from "./pages/device.js";
import * as alerts from "./pages/alerts.js";
import * as automation from "./pages/automation.js";
import * as admin from "./pages/admin.js";
import * as tenancy from "./pages/tenancy.js";
import * as audit from "./pages/audit.js";
import * as backups from "./pages/backups.js";
import * as incidents from "./pages/incidents.js";
import * as runbooks from "./pages/runbooks.js";
import * as kpis from "./pages/kpis.js";
import * as patching from "./pages/patching.js";
import * as posture from "./pages/posture.js";
import * as aging from "./pages/aging.js";
import * as agentless from "./pages/agentless.js";

const routes = {
  "": dashboard.render,
  devices: devices.render,
  agentless: agentless.render,
  device: device.render,
  alerts: alerts.render,
  backups: backups.render,
  posture: posture.render,
  aging: aging.render,
  incidents: incidents.render,
  incident: incidents.incident,
  kpis: kpis.render,
  runbooks: runbooks.render,
  monitors: admin.monitors,
  scripts: automation.scripts,
  jobs: automation.jobs,
  job: automation.job,
  schedules: automation.schedules,
  channels: admin.channels,
  enrollment: admin.enrollment,
  users: admin.users,
  organisations: tenancy.render,
  audit: audit.render,
  patching: patching.render,
};

// What each page needs (held somewhere), and how it is named when it is
// missing: pages the user may not use leave the navigation, and a link to
// one explains instead of showing the server's refusal. The users page
// also holds the user's own API tokens: it stays.
const needs = {
  "": ["devices.view", "The dashboard"],
  devices: ["devices.view", "Seeing devices"],
  agentless: ["devices.view", "Seeing agentless devices"],
  device: ["devices.view", "Seeing devices"],
  alerts: ["devices.view", "Seeing alerts"],
  backups: ["devices.view", "Seeing backups"],
  posture: ["devices.view", "Seeing security posture"],
  aging: ["devices.view", "Seeing aging infrastructure"],
  incidents: ["devices.view", "Seeing incidents"],
  incident: ["devices.view", "Seeing incidents"],
  kpis: ["devices.view", "Seeing KPIs and reports"],
  runbooks: ["devices.view", "Seeing runbooks"],
  monitors: ["monitors.manage", "Monitors"],
  channels: ["monitors.manage", "Notification channels"],
  scripts: ["scripts.run", "Scripts"],
  jobs: ["scripts.run", "Jobs"],
  job: ["scripts.run", "Jobs"],
  schedules: ["scripts.run", "Schedules"],
  enrollment: ["enroll.manage", "Enrolling devices"],
  organisations: ["orgs.manage|roles.manage", "Managing organisations and roles"],
  audit: ["audit.view", "Reading the audit log"],
  patching: ["devices.view", "Seeing patching"],
};

// Whether the user holds one of the permissions "a|b" names.
const usable = (me, spec) => spec.split("|").some((p) => holds(me, p));

// Shows only the navigation the user can use (a group heading goes with
// its last link).
function trimNav(me) {
  let heading = null;
  let shown = 0;
  const close = () => { if (heading) heading.hidden = shown === 0; };
  for (const el of document.querySelectorAll("#nav > *")) {
    if (el.classList.contains("nav-group")) { close(); heading = el; shown = 0; continue; }
    const page = el.dataset.page === "dashboard" ? "" : el.dataset.page;
    if (page === undefined) continue;
    const need = needs[page];
    el.hidden = !!need && !usable(me, need[0]);
    if (!el.hidden) shown++;
  }
  close();
}

// "missing permission users.manage" (the server's refusal) as a sentence.
function refusal(error) {
  const missing = error.status === 403 && /^missing permission (\S+)$/.exec(error.message || "");
  if (!missing) return errorBox(error);
  return needsPermission(ctx.me, missing[1], "This page");
}

const ctx = {
  me: null,
  fleet: null,
  fleetListeners: new Set(),
  // Pages subscribe to the fleet figures pushed every few seconds.
  onFleet(fn) { this.fleetListeners.add(fn); return () => this.fleetListeners.delete(fn); },
};

let cleanup = null;
let renderId = 0;

async function render() {
  if (!ctx.me) return;
  const { parts, params } = parseHash();
  const page = parts[0] || "";
  const fn = routes[page];
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  ctx.fleetListeners.clear();
  for (const a of document.querySelectorAll("#nav a[data-page]")) {
    const current = a.dataset.page === (page || "dashboard") || (page === "device" && a.dataset.page === "devices") || (page === "job" && a.dataset.page === "jobs");
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const main = $("#main");
  const id = ++renderId;
  const container = h("div", { class: "page" });
  main.replaceChildren(container);
  if (!fn) { container.append(h("h1", {}, "Not found"), h("p", {}, "There is no such page. ", h("a", { href: "#/" }, "Back to the dashboard"))); return; }
  const need = needs[page];
  if (need && !usable(ctx.me, need[0])) {
    container.append(h("h1", {}, document.querySelector(`#nav a[data-page="${page || "dashboard"}"]`)?.firstChild?.textContent?.trim() || "Not available"),
      needsPermission(ctx.me, need[0].split("|")[0], need[1]));
    return;
  }
  try {
    const result = await fn(container, parts.slice(1), params, ctx);
    if (id !== renderId) { if (typeof result === "function") result(); return; }
    cleanup = typeof result === "function" ? result : null;
  } catch (error) {
    if (id === renderId && error.status !== 401) container.append(refusal(error));
  }
}

// --- signing in -----------------------------------------------------------

function showSignin(note) {
  ctx.me = null;
  closeEvents();
  $("#shell").hidden = true;
  $("#signin").hidden = false;
  $("#login-note").textContent = note || "";
  $("#login").elements.password.value = "";
  $("#code-field").hidden = true;
  $("#login").elements.code.value = "";
  (document.activeElement === document.body || !document.activeElement) && $("#login").elements.username.focus();
}

async function showConsole(me) {
  ctx.me = me;
  $("#signin").hidden = true;
  $("#shell").hidden = false;
  $("#who").textContent = me.username;
  trimNav(me);
  $("#mfa").hidden = me.totp_enabled !== false;
  if (!me.mfa_done) { closeEvents(); totpSetup(); return; }
  openEvents();
  await render();
}

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target;
  const err = $("#login-error");
  err.hidden = true;
  if (!f.checkValidity()) { err.textContent = "Enter your username and password."; err.hidden = false; return; }
  const body = { username: f.username.value.trim(), password: f.password.value };
  if (!$("#code-field").hidden) body.code = f.code.value.trim();
  f.querySelector("button").disabled = true;
  try {
    await api("/login", { method: "POST", body });
    await showConsole(await api("/whoami"));
  } catch (error) {
    // Every refusal carries mfa_required, whatever was wrong: offer the
    // code field (optional for accounts without two factors).
    if (error.body && error.body.mfa_required && $("#code-field").hidden) {
      $("#code-field").hidden = false;
      err.textContent = "Wrong username or password; or, if this account uses two-factor sign-in, enter its code too.";
      f.code.focus();
    } else {
      err.textContent = error.message;
    }
    err.hidden = false;
  } finally {
    f.querySelector("button").disabled = false;
  }
});

onUnauthorized(() => {
  if (ctx.me) showSignin("Your session has ended. Sign in again to carry on where you were.");
});

onMfaSetupRequired(async () => {
  if (!ctx.me || !ctx.me.mfa_done) return;
  const me = await api("/whoami").catch(() => null);
  if (me && !me.mfa_done) showConsole(me);
});

$("#mfa").addEventListener("click", () => totpSetup());

// Your own password: the current one first; your other sessions end.
$("#password").addEventListener("click", () => modal("Change your password", (close) => form([
  { name: "current_password", label: "Current password", type: "password", required: true, autocomplete: "current-password" },
  { name: "new_password", label: "New password", type: "password", required: true, pattern: ".{12,}", help: "At least 12 characters", autocomplete: "new-password" },
  { name: "again", label: "New password again", type: "password", required: true, autocomplete: "new-password" },
], async (v) => {
  if (v.new_password !== v.again) throw new Error("The two new passwords differ.");
  await api("/me/password", { method: "POST", body: { current_password: v.current_password, new_password: v.new_password } });
  toast("Password changed; your other sessions were signed out");
  close();
}, { submitLabel: "Change password" })));

$("#signout").addEventListener("click", async () => {
  try { await api("/logout", { method: "POST", body: {} }); } catch { /* signed out anyway */ }
  showSignin("Signed out.");
});

// Organisations that require two factors let a new account in only to set
// one up; anyone else can turn it on from the top bar.
async function totpSetup() {
  const main = $("#main");
  const setup = await api("/me/totp/setup", { method: "POST", body: {} }).catch((e) => ({ error: e }));
  if (setup.error) { main.replaceChildren(errorBox(setup.error)); return; }
  main.replaceChildren(h("div", { class: "page narrow" },
    h("h1", {}, "Set up two-factor sign-in"),
    h("p", {}, ctx.me.mfa_done
      ? "A second factor keeps this account safe even if its password leaks. Scan the code with an authenticator app, then enter the code it shows."
      : "Your organisation requires a second factor. Scan the code with an authenticator app, then enter the code it shows."),
    setup.qr ? h("img", { class: "qr", src: setup.qr, alt: "QR code of the key for an authenticator app", width: 200, height: 200 }) : null,
    h("p", {}, "Or type the key: ", h("code", { class: "secret" }, setup.secret)),
    h("p", { class: "muted small" }, setup.otpauth_url),
    form([{ name: "code", label: "Code", required: true, pattern: "[0-9]{6}", autocomplete: "one-time-code" }], async ({ code }) => {
      const done = await api("/me/totp/enable", { method: "POST", body: { code } });
      main.replaceChildren(h("div", { class: "page narrow" }, h("h1", {}, "Two-factor sign-in is on"),
        h("p", {}, "Keep these one-time recovery codes somewhere safe:"),
        h("pre", { class: "codes" }, done.recovery_codes.join("\n")),
        h("button", { class: "primary", onclick: async () => showConsole(await api("/whoami")) }, "Continue")));
    }, { submitLabel: "Turn on" }),
    ctx.me.mfa_done ? h("button", { id: "mfa-cancel", class: "small", type: "button", onclick: () => render() }, "Not now") : null));
}

// --- live updates ----------------------------------------------------------

let socket = null;
let retry = 1000;
function openEvents() {
  closeEvents();
  const ws = new WebSocket(wsUrl("/events"));
  socket = ws;
  ws.onopen = () => { retry = 1000; $("#live").className = "on"; $("#live").title = "Live updates: connected"; };
  ws.onmessage = (message) => {
    let data;
    try { data = JSON.parse(message.data); } catch { return; }
    if (data.type !== "fleet") return;
    const before = ctx.fleet;
    ctx.fleet = data;
    const open = data.alerts_critical + data.alerts_warning;
    const badge = $("#alert-badge");
    badge.hidden = open === 0;
    badge.textContent = String(open);
    badge.className = "badge" + (data.alerts_critical ? " critical" : "");
    const changed = !before || ["devices", "online", "alerts_critical", "alerts_warning"].some((k) => before[k] !== data[k]);
    if (changed) for (const fn of ctx.fleetListeners) fn(data, before);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    $("#live").className = "off";
    $("#live").title = "Live updates: reconnecting";
    if (event.code === 1008) {
      // Revoked, expired, or now owing a second factor.
      api("/whoami").then((me) => { if (!me.mfa_done) showConsole(me); }).catch(() => {});
      return;
    }
    setTimeout(() => { if (ctx.me && socket === ws) openEvents(); }, retry);
    retry = Math.min(retry * 2, 30000);
  };
}
function closeEvents() {
  if (socket) { const s = socket; socket = null; s.close(); }
}

// --- theme -----------------------------------------------------------------

const themes = ["auto", "light", "dark"];
function applyTheme(theme) {
  if (theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.dataset.theme = theme;
  $("#theme").textContent = "Theme: " + theme;
}
let theme = localStorage.getItem("steward-theme") || "auto";
applyTheme(theme);
$("#theme").addEventListener("click", () => {
  theme = themes[(themes.indexOf(theme) + 1) % themes.length];
  localStorage.setItem("steward-theme", theme);
  applyTheme(theme);
});

// --- search and keys -------------------------------------------------------

$("#quick-search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = event.target.q.value.trim();
  location.hash = "#/devices" + (q ? "?q=" + encodeURIComponent(q) : "");
});
document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !event.target.closest("input, textarea, select, .xterm")) {
    event.preventDefault();
    $("#quick-search").q.focus();
  }
});

window.addEventListener("hashchange", render);
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason && event.reason.status !== 401 && event.reason.name !== "AbortError") toast(event.reason.message || String(event.reason), "error");
});

// Start: a live session goes straight in.
api("/whoami").then(showConsole, () => showSignin(""));
