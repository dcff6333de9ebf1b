// The remote terminal in the page: xterm.js (from npm) over the shell
// WebSocket. Keys go to the device as typed (Ctrl-C included); the
// terminal's size follows the box, full-screen programs such as top work.
import { h, wsUrl } from "../lib.js";
import { css } from "../charts.js";

export async function openTerminal(body, d) {
  if (d.status !== "online") {
    body.append(h("p", { class: "muted" }, "The device is offline: a terminal opens when it is connected."));
    return;
  }
  const [{ Terminal }, { FitAddon }] = await Promise.all([
    import("../vendor/xterm.mjs"), import("../vendor/addon-fit.mjs"), css("/ui/vendor/xterm.css"),
  ]);
  const state = h("span", { class: "muted", id: "terminal-state" }, "Connecting…");
  const full = h("button", { class: "small" }, "Full screen");
  const box = h("div", { class: "terminal-box", id: "terminal" });
  body.append(h("div", { class: "toolbar" }, state, h("span", { class: "grow" }), full,
    h("span", { class: "muted small" }, "The audit log keeps who opened this terminal, when and why it closed, and the bytes each way; not what is typed or shown.")), box);

  const term = new Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace', theme: { background: "#000000" } });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const socket = new WebSocket(wsUrl(`/devices/${d.id}/shell?cols=${term.cols}&rows=${term.rows}`));
  socket.binaryType = "arraybuffer";
  const send = (message) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));
  socket.onopen = () => { state.textContent = `Connected to ${d.name}`; term.focus(); };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") term.write(event.data);
    else term.write(new Uint8Array(event.data));
  };
  socket.onclose = (event) => {
    state.textContent = "Closed" + (event.reason ? `: ${event.reason}` : "");
    term.write(`\r\n\x1b[2m[session closed${event.reason ? ": " + event.reason : ""}]\x1b[0m\r\n`);
  };
  const input = term.onData((data) => send({ type: "input", data }));
  const resized = term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
  const observer = new ResizeObserver(() => { try { fit.fit(); } catch { /* hidden */ } });
  observer.observe(box);
  full.addEventListener("click", () => {
    box.classList.toggle("full");
    full.textContent = box.classList.contains("full") ? "Exit full screen" : "Full screen";
    if (box.classList.contains("full")) box.append(exitButton);
    else exitButton.remove();
    fit.fit();
    term.focus();
  });
  const exitButton = h("button", { class: "small", style: null, onclick: () => full.click() }, "Exit full screen (Esc twice)");
  exitButton.classList.add("terminal-exit");
  // Expose the terminal's text to tests and screen readers' "copy all".
  box.terminalText = () => {
    const lines = [];
    const buffer = term.buffer.active;
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n");
  };
  return () => {
    observer.disconnect();
    input.dispose();
    resized.dispose();
    socket.close();
    term.dispose();
  };
}
