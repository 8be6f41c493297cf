"""The fault campaign of issue 12, the long parts: how often a recording ends well, and what is lost.

    python bench/bench_faults.py contention --runs 10        # `myostride demo` with two busy processes
    python bench/bench_faults.py kill --runs 20              # SIGKILL of `record` at seeded moments
    python bench/bench_faults.py signals --repeats 2         # SIGINT/SIGTERM x 7 phases, in-process
    python bench/bench_faults.py soak --minutes 20 --nodes 12

Each prints one line per run and a summary: runs, outcome, data lost, and timing medians with
their spread (min-max). Record `cat /proc/loadavg` beside the numbers: the machine is shared.
The fast versions of these faults are tests (tests/faults/); results go to docs/recording.md.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for sub in ("host", "protocol", "simulators", "tests/host_acq"):
    sys.path.insert(0, str(REPO / sub))

from myostride.acquire import logscan  # noqa: E402
from myostride.session import load_session, rebuild_session  # noqa: E402
from myowire import codec  # noqa: E402
from simworld import mapping_for, small_world  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(str(REPO / s) for s in ("host", "protocol", "simulators")))


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def spread(xs):
    xs = np.asarray(xs, dtype=float)
    if not len(xs):
        return "n/a"
    return "median %.1f (min %.1f, max %.1f)" % (np.median(xs), xs.min(), xs.max())


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def busy(n=2):
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def wait_phase(raw_log, phase, proc, timeout_s=120.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        if raw_log.exists():
            try:
                if any(e["event"] == "phase" and e["phase"] == phase for e in logscan.scan_log(raw_log).events):
                    return True
            except Exception:
                pass
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- contention

def contention(a):
    """`myostride demo` (README's first command) with two busy processes beside it."""
    rows = []
    hogs = busy(a.busy)
    try:
        for i in range(a.runs):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "demo"
                cmd = [sys.executable, "-m", "myostride", "demo", "--out", str(out), "--nodes", str(a.nodes),
                       "--seconds", str(a.seconds), "--seed", str(i + 1), "--no-live"]
                t0 = time.monotonic()
                la = loadavg()
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
                try:
                    log, _ = p.communicate(timeout=a.timeout_s)
                    rc = p.returncode
                except subprocess.TimeoutExpired:
                    p.kill()
                    log, _ = p.communicate()
                    rc = "HUNG"
                wall = time.monotonic() - t0
                end_s = missing = None
                phases = "no session"
                man_path = out / "session" / "session.json"
                if man_path.exists():
                    man = json.loads(man_path.read_text())
                    missing = sum(n["samples"]["missing"] for n in man["nodes"])
                    contents = logscan.scan_log(out / "session" / "raw.log")
                    ev = contents.events
                    phases = contents.phase_timeline()
                    stop = next((e for e in ev if e["event"] == "stop_sent"), None)
                    end = next((e for e in ev if e["event"] == "session_end"), None)
                    if stop and end:
                        end_s = (end["t_us"] - stop["t_us"]) / 1e6
                rows.append({"run": i + 1, "rc": rc, "wall_s": wall, "stop_to_end_s": end_s, "missing_samples": missing, "load": la})
                if a.keep and (rc != 0 or missing or (end_s or 0) > 10.0):
                    import shutil

                    shutil.copytree(out / "session", Path(a.keep) / ("run%02d" % (i + 1)), dirs_exist_ok=True)
                print("run %2d: exit %s, %.0f s, STOP->session_end %s s, samples missing %s, load %s; recorder phases (s): %s"
                      % (i + 1, rc, wall, "%.2f" % end_s if end_s is not None else "-", missing, la, phases), flush=True)
                if rc != 0:
                    print(log[-2000:])
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    ok = sum(r["rc"] == 0 for r in rows)
    print("contention: %d/%d demo runs completed (%d nodes, %g s, %d busy processes); wall %s s; STOP->session_end %s s; "
          "samples missing total %s" % (ok, len(rows), a.nodes, a.seconds, a.busy, spread([r["wall_s"] for r in rows]),
                                        spread([r["stop_to_end_s"] for r in rows if r["stop_to_end_s"] is not None]),
                                        sum(r["missing_samples"] or 0 for r in rows)))
    return rows


# ---------------------------------------------------------------- SIGKILL

def kill(a):
    rng = random.Random(a.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # the world must outlast every run, also on a loaded machine (a node stops advertising
        # when its simulated signal ends)
        with small_world(tmp, nodes=a.nodes, seconds=a.runs * 90.0 + 120.0, seed=a.seed, radio={"loss_pct": 2.0}) as (sc, _w):
            for i in range(a.runs):
                out = tmp / ("k%02d" % i)
                cmd = [sys.executable, "-m", "myostride", "record", "--backend", "sim", "--world", str(sc.world_path),
                       "--out", str(out), "--no-live", "--seconds", "60"]
                for m in mapping_for(sc):
                    cmd += ["--map", m]
                p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
                if not wait_phase(out / "raw.log", "recording", p):
                    print("run %d: recording never started: %s" % (i, p.communicate()[1][-500:]))
                    rows.append({"ok": False})
                    continue
                delay = rng.uniform(0.0, a.max_s)
                time.sleep(delay)
                p.kill()
                p.wait()
                rows.append(check_killed(out, i, delay))
    ok = sum(r["ok"] for r in rows)
    print("kill: %d/%d runs rebuilt with every logged sample kept and the missing samples reported exactly; "
          "torn tail %s bytes; samples kept %s" % (ok, len(rows), spread([r.get("tail", 0) for r in rows]),
                                                   spread([r.get("samples", 0) for r in rows])))
    return rows


def check_killed(out, i, delay):
    man = rebuild_session(out)
    s = load_session(out)
    contents = logscan.scan_log(out / "raw.log")
    ok = man["status"] == "interrupted"
    for ch in s.channels:
        entry = next(n for n in man["nodes"] if n["node_id"] == ch.node_id)
        ks = set()
        for _seq, f in contents.node(ch.node_id).frames_of_type(codec.T_EMG):
            d = codec.decode_frame(f)
            k0 = int(round(d["t0_us"] * ch.fs_hz / 1e6))
            ks.update(range(k0, k0 + d["count"]))
        holes = int(np.sum(np.diff(ch.node_k) - 1)) if len(ch.node_k) > 1 else 0
        ok &= set(ch.node_k.tolist()) == ks and entry["samples"]["missing"] == holes
    tail = man["raw_log"].get("tail_ignored_bytes", 0)
    samples = sum(n["samples"]["received"] for n in man["nodes"])
    print("run %2d: killed %.2f s into the recording: %s, %d samples kept, %d missing inside (reported), torn tail %d bytes"
          % (i, delay, "ok" if ok else "FAIL", samples, sum(n["samples"]["missing"] for n in man["nodes"]), tail), flush=True)
    return {"ok": bool(ok), "tail": tail, "samples": samples}


# ---------------------------------------------------------------- signals in every phase

PHASES = ("scanning", "connecting", "configuring", "syncing", "recording", "stopping", "draining")


def signals(a):
    from myostride.acquire.backends import resolve_backend
    from myostride.acquire.recorder import Recorder
    from myostride.commands.record import stop_on_signals

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with small_world(tmp, nodes=a.nodes, seconds=len(PHASES) * 2 * a.repeats * 30.0 + 120.0, seed=a.seed,
                         radio={"loss_pct": 2.0}) as (sc, _w):
            n = 0
            for rep in range(a.repeats):
                for phase in PHASES:
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        n += 1
                        out = tmp / ("s%03d" % n)
                        seconds = 2.0 if phase in ("stopping", "draining") else None
                        rec = Recorder(out, mapping_for(sc), seconds, backend=resolve_backend("sim", world=sc.world_path))
                        sent = {}
                        enter = rec._set_phase

                        def hook(p, enter=enter, phase=phase, sig=sig, sent=sent):
                            enter(p)
                            if p == phase and not sent:
                                sent["t"] = time.monotonic()
                                os.kill(os.getpid(), sig)

                        rec._set_phase = hook

                        async def go(rec=rec):
                            async with stop_on_signals(rec) as stop:
                                return await rec.run(stop)

                        man = asyncio.run(go())
                        took = time.monotonic() - sent["t"]
                        ev = logscan.scan_log(out / "raw.log").events
                        connected = {e["node_id"] for e in ev if e["event"] == "connected"}
                        told = {e["node_id"] for e in ev if e["event"] in ("stopped", "stop_unanswered")}
                        ok = (took < 5.0 and ev[-1]["event"] == "session_end" and connected <= told
                              and man["status"] == ("complete" if seconds else "stopped"))
                        rows.append({"phase": phase, "sig": sig.name, "took_s": took, "ok": ok})
                        print("%-12s %-7s closed in %.2f s: %s" % (phase, sig.name, took, "ok" if ok else "FAIL"), flush=True)
    ok = sum(r["ok"] for r in rows)
    print("signals: %d/%d stops closed a session within 5 s with every connected node told to stop; signal->closed %s s"
          % (ok, len(rows), spread([r["took_s"] for r in rows])))
    return rows


# ---------------------------------------------------------------- soak

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def soak(a):
    from myostride.acquire.backends import resolve_backend
    from myostride.acquire.recorder import Recorder

    seconds = a.minutes * 60.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with small_world(tmp, nodes=a.nodes, seconds=seconds + 300.0, seed=a.seed, radio={"loss_pct": 2.0}) as (sc, _w):
            mem = []

            def progress(snap):
                if snap["elapsed_s"] > 0:
                    mem.append((snap["elapsed_s"], rss_mb()))

            out = tmp / "soak"
            rec = Recorder(out, mapping_for(sc), seconds, backend=resolve_backend("sim", world=sc.world_path), progress=progress)
            t0 = time.monotonic()
            man = asyncio.run(rec.run())
            wall = time.monotonic() - t0
            live = load_session(out)
            live_arrays = {ch.node_id: (ch.t_s.copy(), ch.uv.copy()) for ch in live.channels}
            (out / "session.json").rename(out / "session.live.json")
            rebuilt = rebuild_session(out)
            again = load_session(out)
            same = all(np.array_equal(live_arrays[ch.node_id][0], ch.t_s) and np.array_equal(live_arrays[ch.node_id][1], ch.uv)
                       for ch in again.channels) and len(again.channels) == len(live.channels)
            live_man = json.loads((out / "session.live.json").read_text())
            same_counts = [n["samples"] for n in live_man["nodes"]] == [n["samples"] for n in rebuilt["nodes"]]
            phases = logscan.scan_log(out / "raw.log").phase_timeline()
    why = {}  # missing frames by the reason the session gives (docs/recording.md: gaps)
    for n in man["nodes"]:
        for a_seq, b_seq, reason in n["frames"]["missing_ranges"]:
            why[reason] = why.get(reason, 0) + (b_seq - a_seq + 1)  # inclusive ranges
    after_1min = [m for t, m in mem if t >= 60.0]
    growth = (max(after_1min) - after_1min[0]) if after_1min else float("nan")
    missing = sum(n["samples"]["missing"] for n in man["nodes"])
    gone = sum(n["frames"].get("missing", 0) for n in man["nodes"])
    print("soak: %d nodes, %.1f min at real time: status %s, wall %.0f s, samples received %d, missing %d, frames missing %d; "
          "host RSS %.0f MB after 1 min, growth to the end %.1f MB; rebuilt from raw.log identical to live: %s (counts %s); load %s"
          % (a.nodes, a.minutes, man["status"], wall, sum(n["samples"]["received"] for n in man["nodes"]), missing, gone,
             after_1min[0] if after_1min else float("nan"), growth, same, same_counts, loadavg()))
    print("soak: missing frames by reason %s; recorder phases (s): %s" % (why or "none", phases))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("contention")
    c.add_argument("--runs", type=int, default=10)
    c.add_argument("--nodes", type=int, default=12)
    c.add_argument("--seconds", type=float, default=10.0)
    c.add_argument("--busy", type=int, default=2)
    c.add_argument("--timeout-s", type=float, default=600.0, help="a run longer than this counts as a hang")
    c.add_argument("--keep", metavar="DIR", help="copy the session of any run that failed, lost samples or ended slowly here")
    k = sub.add_parser("kill")
    k.add_argument("--runs", type=int, default=20)
    k.add_argument("--nodes", type=int, default=3)
    k.add_argument("--max-s", type=float, default=8.0, help="kill up to this long after recording started")
    k.add_argument("--seed", type=int, default=7)
    s = sub.add_parser("signals")
    s.add_argument("--repeats", type=int, default=1)
    s.add_argument("--nodes", type=int, default=3)
    s.add_argument("--seed", type=int, default=9)
    o = sub.add_parser("soak")
    o.add_argument("--minutes", type=float, default=20.0)
    o.add_argument("--nodes", type=int, default=12)
    o.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    print("bench_faults %s, load %s" % (a.what, loadavg()), flush=True)
    {"contention": contention, "kill": kill, "signals": signals, "soak": soak}[a.what](a)
    print("load at end %s" % loadavg())


if __name__ == "__main__":
    main()
