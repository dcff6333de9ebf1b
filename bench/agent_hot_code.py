#!/usr/bin/env python3
"""The agent's hot code: the functions an idle agent runs cycle after cycle,
written as the linker's symbol ordering file (crates/steward-agent/hot-symbols.txt),
so that the link puts them next to each other and an idle cycle touches a
few pages of code instead of most of the binary (see
docs/architecture/agent-platforms.md, "Memory").

How: the agent (every collector on, as bench/agent_footprint.py runs it)
runs under valgrind's callgrind against a real server; after the warm-up
(enrolment, first inventory, first patching and posture passes) the counts
are zeroed, then after --cycles collection cycles dumped; every function of
the agent's binary that ran in that window is hot. Run it again when the
footprint run reports that few of the file's symbols are still in the
binary (a dependency bump or a compiler upgrade renames them).

Usage: bench/agent_hot_code.py [--cycles 6] [--interval 5] [--bin DIR] [--agent FILE] [--out FILE]
       bench/agent_hot_code.py --pages BINARY [--out FILE]   (how many of the file's symbols BINARY
       has and how many 4 KiB pages they span: few found means regenerate)
Needs: valgrind; cargo build -p steward --bin steward (any profile) and
       cargo build -p steward-agent --features standalone --profile agent.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_footprint import every_collector, free_port, wait_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "crates", "steward-agent", "hot-symbols.txt")


def hot_functions(dump, binary):
    """Names (as in the symbol table) of the functions of `binary` with a
    cost of their own in a callgrind dump (--compress-strings=no), in the
    order the dump lists them."""
    real = os.path.realpath(binary)
    hot, seen = [], set()
    ob, fn, after_calls = None, None, False
    for line in open(dump, errors="replace"):
        if line.startswith("ob="):
            ob = line[3:].strip()
        elif line.startswith("fn="):
            fn = line[3:].strip()
        elif line.startswith("calls="):
            # The next cost line is the callee's inclusive cost.
            after_calls = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if after_calls:
                after_calls = False
                continue
            parts = line.split()
            # Only real symbols: callgrind names code without one
            # "0x…" and adds "(below main)".
            if (fn and fn not in seen and not fn.startswith(("0x", "(")) and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) > 0
                    and ob and os.path.realpath(ob) == real):
                seen.add(fn)
                hot.append(fn)
    return hot


def hot_pages(binary, names):
    """How many of `names` the binary has, their bytes, and how many 4 KiB
    pages of code they span (what an idle cycle touches)."""
    syms = {}
    for line in subprocess.check_output(["nm", "-S", "-n", binary], text=True).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            syms[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    hot = [syms[n] for n in names if n in syms]
    pages = set()
    for start, size in hot:
        pages.update(range(start // 4096, (start + max(size, 1) - 1) // 4096 + 1))
    return len(hot), sum(size for _, size in hot), len(pages)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--interval", type=int, default=5)
    ap.add_argument("--bin", default=os.environ.get("CARGO_TARGET_DIR", "target") + "/debug",
                    help="directory of the steward server binary")
    ap.add_argument("--agent", help="steward-agent binary (default: target/agent/steward-agent)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--warmup", type=int, default=120,
                    help="seconds under valgrind before counting (start-up passes are tens of times slower there)")
    ap.add_argument("--pages", metavar="BINARY",
                    help="only report: how many of --out's symbols BINARY has and how many pages they span")
    args = ap.parse_args()
    if args.pages:
        names = [n for n in open(args.out).read().splitlines() if n]
        found, size, pages = hot_pages(args.pages, names)
        print(f"{found} of {len(names)} hot functions in {args.pages}: {size} bytes over {pages} pages of 4 KiB")
        return
    target = os.path.dirname(os.path.abspath(args.bin))
    steward = os.path.join(args.bin, "steward")
    agent = args.agent or os.path.join(target, "agent", "steward-agent")
    for b in (steward, agent):
        if not os.path.exists(b):
            raise SystemExit(f"{b} missing")
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind missing (apt-get install valgrind)")
    tmp = tempfile.mkdtemp(prefix="steward-hot-")
    procs = []
    try:
        port = free_port()
        env = dict(os.environ, STEWARD_ADMIN_PASSWORD="bench-only-password", STEWARD_LOG="warn")
        server = subprocess.Popen([steward, "serve", "--data-dir", f"{tmp}/server", "--listen", f"127.0.0.1:{port}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/server.log", "w"))
        procs.append(server); wait_port(port)
        token = json.loads(subprocess.check_output([steward, "token", "create", "--json", "--data-dir", f"{tmp}/server"]))["token"]
        cli_env = dict(env, STEWARD_URL=f"https://127.0.0.1:{port}", STEWARD_TOKEN=token, STEWARD_CA=f"{tmp}/server/ca.pem")
        enroll = json.loads(subprocess.check_output([steward, "enroll-token", "create", "--json"], env=cli_env))["token"]
        # The agent runs under the name it enrolled with (without it, `run`
        # finds no enrolment and exits at once: nothing to count).
        subprocess.check_call([agent, "--state-dir", f"{tmp}/agent", "--name", "agent", "enroll", enroll], stdout=subprocess.DEVNULL)
        out = f"{tmp}/callgrind.out"
        a = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--demangle=no",
                              "--compress-strings=no", "--compress-pos=no", "--trace-children=no",
                              agent, "--state-dir", f"{tmp}/agent", "--name", "agent", "--log", "warn", "run",
                              "--interval", f"{args.interval}s", *every_collector(tmp, port, args.interval)],
                             stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/agent.log", "w"))
        procs.append(a)
        # Warm-up under valgrind (tens of times slower): until the first
        # patching pass is over and a few cycles later.
        time.sleep(args.warmup)
        if a.poll() is not None:
            raise SystemExit("the agent exited during the warm-up:\n" + open(f"{tmp}/agent.log").read()[-3000:])
        subprocess.check_call(["callgrind_control", "-z", str(a.pid)], stdout=subprocess.DEVNULL)
        for cycle in range(args.cycles):
            with open(f"{tmp}/app.log", "a") as log:
                log.write(f"app[{cycle}]: error: connection to 10.0.0.{cycle} refused after {cycle * 7} ms\n")
            time.sleep(args.interval)
        subprocess.check_call(["callgrind_control", "-d", str(a.pid)], stdout=subprocess.DEVNULL)
        dumps = [os.path.join(tmp, f) for f in os.listdir(tmp) if f.startswith("callgrind.out")]
        if not dumps:
            raise SystemExit(f"no callgrind dump in {sorted(os.listdir(tmp))}; agent log:\n" + open(f"{tmp}/agent.log").read()[-3000:])
        dump = max(dumps, key=os.path.getmtime)
        if os.environ.get("STEWARD_HOT_KEEP_DUMP"):
            shutil.copy(dump, os.environ["STEWARD_HOT_KEEP_DUMP"])
        if a.poll() is not None:
            raise SystemExit("the agent exited while being counted:\n" + open(f"{tmp}/agent.log").read()[-3000:])
        hot = hot_functions(dump, agent)
        with open(args.out, "w") as f:
            f.write("\n".join(hot) + "\n")
        print(f"{len(hot)} hot functions written to {args.out}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
