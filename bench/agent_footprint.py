#!/usr/bin/env python3
"""Agent footprint, side by side in one run: steward-agent, zabbix_agentd and
prometheus-node-exporter (Debian packages) on the same machine.

Measures per subject:
  - idle PSS (sum over the subject's processes, /proc/PID/smaps_rollup),
  - CPU time per collection cycle (/proc/PID/task/*/schedstat, nanoseconds),
  - binary size.
A "cycle" is one steward-agent collection (its --interval), one Zabbix poll
of the equivalent items over the passive protocol, one node_exporter scrape.
zabbix_agentd runs twice in the same run: polled for those items (its
footprint doing the same work as the agent) and unpolled (a second instance
nothing asks: its floor); both ratios are printed.

The agent runs with every collector on (see every_collector; --default-collectors
for its defaults only); --before FILE runs a second agent binary beside it with
the same flags, for a before/after in one run.

Usage: bench/agent_footprint.py [--cycles 12] [--interval 5] [--bin DIR] [--agent FILE] [--before FILE]
       [--default-collectors] [--json FILE] [--agent-arg=FLAG ...]
Needs: cargo build --release -p steward && cargo build --profile agent -p steward-agent --features standalone, and
       apt-get install zabbix-agent prometheus-node-exporter.
"""
import argparse, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time, urllib.request

def free_port(low=None, high=None):
    """A free loopback port, optionally within [low, high] (Zabbix accepts 1024-32767)."""
    import random
    for _ in range(1000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", random.randint(low, high) if low else 0))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise SystemExit("no free port")

def tree(pid):
    """pid and all its descendants."""
    pids, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent and int(entry) not in pids:
                    pids.add(int(entry)); frontier.append(int(entry))
    return pids

def cpu_ns(root):
    """CPU time of root's process tree: every live process's threads
    (schedstat, ns), plus what root's reaped children used (cutime and
    cstime of /proc/ROOT/stat). A child alive at the start and reaped by
    the end moves from the first part to the second, so differences count
    it once (the agent's apt runs, zabbix's collectors)."""
    total = 0
    for pid in tree(root):
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                total += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
        except OSError:
            pass
    try:
        fields = open(f"/proc/{root}/stat").read().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return total

def peak_rss_kb(pids):
    """Sum of each process's high-water resident set (VmHWM)."""
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total

def tcp_bytes_sent(pid, port):
    """Bytes the process has sent on its TCP connection to 127.0.0.1:port
    (kernel counter, TLS and WebSocket framing included), via `ss -tinp`."""
    try:
        out = subprocess.check_output(["ss", "-tinpH", "dst", f"127.0.0.1:{port}"], text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    total, mine = 0, False
    for line in out.splitlines():
        if "users:" in line:
            mine = f"pid={pid}," in line
        elif mine and "bytes_sent:" in line:
            total += int(line.split("bytes_sent:")[1].split()[0])
    return total

def pss_kb(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total

def pss_breakdown_kb(pid, binary):
    """Where a process's PSS goes, from /proc/PID/smaps: its own binary's
    pages (code and data), shared libraries, the brk heap, other anonymous
    mappings (malloc arenas, thread stacks, tokio's buffers), the stack."""
    parts = {"binary": 0, "libraries": 0, "heap": 0, "anonymous": 0, "stack": 0, "other": 0}
    real = os.path.realpath(binary)
    kind = "other"
    try:
        for line in open(f"/proc/{pid}/smaps"):
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else ""
                kind = ("binary" if name and os.path.realpath(name) == real else
                        "libraries" if ".so" in name else
                        "heap" if name == "[heap]" else
                        "stack" if name == "[stack]" else
                        "anonymous" if name == "" else "other")
            elif head and head[0] == "Pss:":
                parts[kind] += int(head[1])
    except OSError:
        pass
    return parts

def hot_symbols_found(binary):
    """(found, listed) for crates/steward-agent/hot-symbols.txt in the
    binary's symbol table, or None without the file or nm."""
    listed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "steward-agent", "hot-symbols.txt")
    if not os.path.exists(listed) or not shutil.which("nm"):
        return None
    names = {n for n in open(listed).read().split() if n}
    have = {line.split()[-1] for line in subprocess.run(["nm", binary], capture_output=True, text=True).stdout.splitlines() if line.strip()}
    return len(names & have), len(names)


def threads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0

def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")

ZABBIX_ITEMS = ["system.cpu.util", "system.cpu.load[all,avg1]", "system.cpu.load[all,avg5]", "system.cpu.load[all,avg15]",
                "vm.memory.utilization", "vm.memory.size[used]", "vfs.fs.size[/,pused]", "vfs.fs.size[/,used]",
                "net.if.in[lo]", "net.if.out[lo]", "proc.num", "system.uptime"]

def zabbix_get(port, key):
    data = key.encode()
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(b"ZBXD\x01" + struct.pack("<Q", len(data)) + data)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply[13:].decode(errors="replace")

def every_collector(tmp, server_port, interval):
    """`steward-agent run` flags switching on every collector: the heavy
    passes at their default intervals (patching detection every hour and
    the full posture view every 5 minutes, each first run during the
    warm-up, each followed by a trim), the rest every cycle, so each cycle
    pays for all of them: logins (an auth log and journald) and a watched
    file, a backup job, TCP and HTTPS probes (to the server), a log rule
    whose matching lines are mined into templates; the self-budget is on
    by default. (Script, process and service checks are the operator's
    own commands, not collectors: none is configured.)"""
    os.makedirs(f"{tmp}/backups", exist_ok=True)
    open(f"{tmp}/backups/nightly.tar", "wb").write(b"x" * 4096)
    open(f"{tmp}/backup.json", "w").write(json.dumps({"jobs": [
        {"name": "nightly", "kind": "freshness", "path": f"{tmp}/backups", "max_age_hours": 26, "min_bytes": 1000}]}))
    open(f"{tmp}/watched.conf", "w").write("setting = 1\n")
    open(f"{tmp}/auth.log", "w").close()
    open(f"{tmp}/app.log", "w").close()
    every = f"{interval}s"
    return ["--patch-interval", "1h",
            "--posture-interval", "5m", "--login-interval", every, "--auth-log", f"{tmp}/auth.log",
            "--watch-file", f"{tmp}/watched.conf",
            "--backup-config", f"{tmp}/backup.json", "--backup-interval", every,
            "--check-interval", every,
            "--probe", f"server_tcp=tcp://127.0.0.1:{server_port}",
            "--probe", f"server_https=https://127.0.0.1:{server_port}/api/v1/health?ca={tmp}/server/ca.pem",
            "--log-match", f"app_errors={tmp}/app.log=error"]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=12)
    ap.add_argument("--interval", type=int, default=5, help="seconds between cycles")
    ap.add_argument("--bin", default=os.environ.get("CARGO_TARGET_DIR", "/var/tmp/steward-target") + "/release")
    ap.add_argument("--agent", help="steward-agent binary (default: the size-optimised build, target/agent/)")
    ap.add_argument("--json")
    ap.add_argument("--before", help="another steward-agent binary run beside it in the same run, with the same flags (e.g. main's)")
    ap.add_argument("--default-collectors", action="store_true",
                    help="run the agent with its defaults only (patching and posture), not every collector")
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="an extra flag for `steward-agent run` (repeatable), e.g. --agent-arg=--posture-interval=5s")
    args = ap.parse_args()
    target = os.path.dirname(os.path.abspath(args.bin))
    steward = os.path.join(args.bin, "steward")
    agent = args.agent or os.path.join(target, "agent", "steward-agent")
    for b in (steward, agent):
        if not os.path.exists(b):
            raise SystemExit(f"{b} missing: run cargo build --release -p steward && cargo build --profile agent -p steward-agent --features standalone")
    zabbix, node = shutil.which("zabbix_agentd") or "/usr/sbin/zabbix_agentd", shutil.which("prometheus-node-exporter")
    tmp = tempfile.mkdtemp(prefix="steward-footprint-")
    procs, subjects = [], {}
    try:
        # Steward server + one enrolled agent.
        port = free_port()
        env = dict(os.environ, STEWARD_ADMIN_PASSWORD="bench-only-password", STEWARD_LOG="warn")
        server = subprocess.Popen([steward, "serve", "--data-dir", f"{tmp}/server", "--listen", f"127.0.0.1:{port}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/server.log", "w"))
        procs.append(server); wait_port(port)
        token = json.loads(subprocess.check_output([steward, "token", "create", "--json", "--data-dir", f"{tmp}/server"]))["token"]
        cli_env = dict(env, STEWARD_URL=f"https://127.0.0.1:{port}", STEWARD_TOKEN=token, STEWARD_CA=f"{tmp}/server/ca.pem")
        enroll = json.loads(subprocess.check_output([steward, "enroll-token", "create", "--json"], env=cli_env))["token"]
        agents = [("steward-agent", agent)] + ([("steward-agent (before)", args.before)] if args.before else [])
        collectors = [] if args.default_collectors else every_collector(tmp, port, args.interval)
        for subject, binary in agents:
            state = f"{tmp}/{'agent' if subject == 'steward-agent' else 'agent-before'}"
            subprocess.check_call([binary, "--state-dir", state, "--name", os.path.basename(state), "enroll", enroll],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            a = subprocess.Popen([binary, "--state-dir", state, "--name", os.path.basename(state), "--log", "warn", "run", "--interval", f"{args.interval}s", *collectors, *args.agent_arg],
                                 stdout=subprocess.DEVNULL, stderr=open(f"{state}.log", "w"))
            procs.append(a); subjects[subject] = {"pid": a.pid, "binary": binary}
        if os.path.exists(zabbix):
            # Polled (the items below every cycle) and unpolled (nothing
            # asks it anything), side by side.
            for subject, tag in (("zabbix_agentd", "zabbix"), ("zabbix_agentd (unpolled)", "zabbix-idle")):
                zport = free_port(20000, 32000)
                conf = f"{tmp}/{tag}.conf"
                open(conf, "w").write(f"PidFile={tmp}/{tag}.pid\nLogFile={tmp}/{tag}.log\nServer=127.0.0.1\nListenIP=127.0.0.1\nListenPort={zport}\nAllowRoot=1\n")
                z = subprocess.Popen([zabbix, "-f", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.append(z); wait_port(zport); subjects[subject] = {"pid": z.pid, "binary": zabbix, "port": zport}
        if node:
            nport = free_port()
            n = subprocess.Popen([node, f"--web.listen-address=127.0.0.1:{nport}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(n); wait_port(nport); subjects["prometheus-node-exporter"] = {"pid": n.pid, "binary": node, "port": nport}

        # Warm up: first cycles, connection, inventory, and the first
        # patching and posture passes (the agent's children gone).
        time.sleep(2 * args.interval)
        deadline = time.time() + 120
        agent_pids = [subjects[name]["pid"] for name, _ in agents]
        while any(len(tree(pid)) > 1 for pid in agent_pids) and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(args.interval)
        start = {k: cpu_ns(s["pid"]) for k, s in subjects.items()}
        sent = {k: 0 for k in subjects}
        sent_start = {name: tcp_bytes_sent(subjects[name]["pid"], port) for name, _ in agents}
        for cycle in range(args.cycles):
            t0 = time.time()
            # New lines for the log rule to match and mine.
            with open(f"{tmp}/app.log", "a") as log:
                for i in range(3):
                    log.write(f"app[{cycle}]: error: connection to 10.0.0.{i} refused after {cycle * 7 + i} ms\n")
            if "zabbix_agentd" in subjects:
                for item in ZABBIX_ITEMS:
                    sent["zabbix_agentd"] += 13 + len(zabbix_get(subjects["zabbix_agentd"]["port"], item).encode())
            if "prometheus-node-exporter" in subjects:
                sent["prometheus-node-exporter"] += len(urllib.request.urlopen(f"http://127.0.0.1:{subjects['prometheus-node-exporter']['port']}/metrics").read())
            time.sleep(max(0, args.interval - (time.time() - t0)))
        for name, _ in agents:
            end = tcp_bytes_sent(subjects[name]["pid"], port)
            if sent_start[name] is not None and end is not None:
                sent[name] = end - sent_start[name]
        results = []
        for name, s in subjects.items():
            pids = tree(s["pid"])
            results.append({
                "subject": name,
                "processes": len(pids),
                "pss_kb": pss_kb(pids),
                "cpu_ms_per_cycle": (cpu_ns(s["pid"]) - start[name]) / 1e6 / args.cycles,
                "peak_rss_kb": peak_rss_kb(pids),
                "bytes_per_cycle": sent[name] / args.cycles,
                "binary_bytes": os.path.getsize(s["binary"]),
                "threads": sum(threads(p) for p in pids),
                "pss_breakdown_kb": pss_breakdown_kb(s["pid"], s["binary"]) if name.startswith("steward-agent") else None,
            })
        cmd = " ".join(sys.argv)
        print(f"Agent footprint, {args.cycles} cycles of {args.interval} s, one run (`{cmd}`)\n")
        print("| subject | processes | idle PSS | peak RSS | CPU per cycle | bytes sent per cycle | binary |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in results:
            print(f"| {r['subject']} | {r['processes']} | {r['pss_kb'] / 1024:.2f} MiB | {r['peak_rss_kb'] / 1024:.2f} MiB | {r['cpu_ms_per_cycle']:.2f} ms | {r['bytes_per_cycle']:.0f} B | {r['binary_bytes'] / 1e6:.1f} MB |")
        print("\nCycle: steward-agent collects and sends one batch; zabbix_agentd answers "
              f"{len(ZABBIX_ITEMS)} equivalent passive items (the unpolled instance answers nothing); "
              "node_exporter serves one scrape. "
              "CPU includes everything each process did in that time (heartbeats, zabbix's per-second collector).")
        print("steward-agent collectors: " + ("the defaults" if args.default_collectors else " ".join(collectors)))
        by = {r["subject"]: r for r in results}
        for name, _ in agents:
            parts = by[name]["pss_breakdown_kb"]
            print(f"{name} PSS by mapping: " + ", ".join(f"{k} {v / 1024:.2f} MiB" for k, v in parts.items())
                  + f"; {by[name]['threads']} threads")
        hot = hot_symbols_found(agent)
        if hot:
            print(f"steward-agent hot functions laid out together: {hot[0]} of {hot[1]} in the binary "
                  "(few found: regenerate with bench/agent_hot_code.py)")
        ratios = {}
        for peer in ("zabbix_agentd", "zabbix_agentd (unpolled)", "prometheus-node-exporter"):
            if peer in by and by[peer]["pss_kb"]:
                ratios[peer] = by["steward-agent"]["pss_kb"] / by[peer]["pss_kb"]
                print(f"steward-agent PSS ÷ {peer} PSS: {ratios[peer]:.2f} ×")
        if args.json:
            json.dump({"command": cmd, "cycles": args.cycles, "interval_s": args.interval, "results": results,
                       "pss_ratios": ratios, "agent_collectors": collectors}, open(args.json, "w"), indent=2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
