"""Clock-sync accuracy against the simulator's truth.

Runs a simulated world (real firmware under micropython, virtual air with
connection intervals 7.5-50 ms, latency jitter, +/-100 ppm drift with wander,
2 % bursty loss by default), records it with `record_session`, loads the
session and compares every EMG sample's session time with the true global
time of its node-clock instant (node.json clock knots).

Reports, over nodes and time:
  absolute error      session time - true time, per sample (includes a common offset:
                      the host stack latency, which no host-side method can see)
  alignment error     pairwise difference of two nodes' errors at the same instants:
                      what matters for comparing muscles (goal p99 < 100 us)
for the estimator the session uses and for the plain midpoint (NTP/LSL-style) fit
as the baseline, both from the same recording.

    python bench/bench_sync.py                      # 12 nodes, 30 s, real time
    python bench/bench_sync.py --nodes 4 --seconds 15 --speed 2   # quick
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def truth_time_fn(node_json):
    meta = json.loads(Path(node_json).read_text())
    knots = np.asarray(meta["clock_knots"], dtype=np.float64)
    g, u = knots[:, 0], knots[:, 1]

    def g_of(node_us):
        x = np.asarray(node_us, dtype=np.float64)
        y = np.interp(x, u, g)
        hi = x > u[-1]
        if np.any(hi):
            s = (g[-1] - g[-2]) / (u[-1] - u[-2])
            y[hi] = g[-1] + (x[hi] - u[-1]) * s
        return y

    return g_of


def errors_us(session, node_jsons, clock_override=None):
    """{node_id: (true_g_s, err_us)} for every EMG sample of every channel."""
    start = session.meta["start_host_us"]
    out = {}
    for ch in session.channels:
        g_of = truth_time_fn(node_jsons[ch.node_id])
        node_us = ch.node_k * (1e6 / ch.fs_hz)
        g_true = g_of(node_us)
        if clock_override is not None:
            t_host_us = clock_override[ch.node_id].host_us(node_us)
        else:
            t_host_us = ch.t_s * 1e6 + start
        out[ch.node_id] = (g_true, t_host_us - g_true * 1e6)
    return out


def summarize(errs, grid_step_s=0.01):
    allabs = np.concatenate([np.abs(e) for _g, e in errs.values()])
    lo = max(g[0] for g, _e in errs.values())
    hi = min(g[-1] for g, _e in errs.values())
    grid = np.arange(lo, hi, grid_step_s)
    m = np.array([np.interp(grid, g, e) for g, e in errs.values()])
    pair = []
    for i in range(len(m)):
        for j in range(i + 1, len(m)):
            pair.append(np.abs(m[i] - m[j]))
    pair = np.concatenate(pair) if pair else np.zeros(1)
    return {
        "abs_median_us": float(np.median(allabs)), "abs_p99_us": float(np.percentile(allabs, 99)), "abs_max_us": float(allabs.max()),
        "align_median_us": float(np.median(pair)), "align_p99_us": float(np.percentile(pair, 99)), "align_max_us": float(pair.max()),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=1.0, help="simulation speed factor (1.0 = real time)")
    ap.add_argument("--loss", type=float, default=2.0, help="radio loss %% (bursty)")
    ap.add_argument("--drift-ppm", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--irq", choices=("schedule", "thread"), default="schedule",
                    help="node IRQ delivery in the bluetooth emulation: schedule (default, STM32-style: the write "
                    "IRQ waits for the firmware's idle loop) or thread (ESP32-style synchronous IRQs)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args(argv)

    from myosim import nodefiles
    from myosim.scenario import DEFAULT_LAYOUT, build_scenario
    from myosim.world import World
    from myostride.acquire import logscan, sync
    from myostride.acquire.recorder import record_session
    from myostride.session import load_session

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-", dir="/tmp"))
    sc = build_scenario(tmp / "sim", nodes=a.nodes, seconds=a.seconds + 20, seed=a.seed, drift_ppm=a.drift_ppm)
    nodefiles.write_world(sc.world_path, tmp / "air.sock", tmp / "host.sock", a.seconds + 20, speed=a.speed)
    node_jsons = {int(json.loads(Path(p).read_text())["node_id"]): p for p in sc.node_jsons}
    mapping = ["%d=%s:%s" % x for x in DEFAULT_LAYOUT[: a.nodes]]
    t0 = time.time()
    env = {"MYOSTRIDE_SIM_IRQ": a.irq} if a.irq != "schedule" else {}
    with World(sc.node_jsons, sc.world_path, {"seed": a.seed, "loss_pct": a.loss}, env=env):
        asyncio.run(record_session(tmp / "rec", mapping, a.seconds, backend="sim", world=sc.world_path))
    wall = time.time() - t0
    s = load_session(tmp / "rec")
    ours = summarize(errors_us(s, node_jsons))
    contents = logscan.scan_log(tmp / "rec" / "raw.log")
    from myostride.acquire.streams import consistent_exchanges

    mid = {nid: sync.fit_clock(consistent_exchanges(contents.node(nid))[0], method="midpoint") for nid in node_jsons}
    base = summarize(errors_us(s, node_jsons, mid))
    print("bench_sync: %d nodes, %.0f s simulated at speed %g (%.1f s wall), loss %g %%, drift +/-%g ppm, node IRQs %s"
          % (a.nodes, a.seconds, a.speed, wall, a.loss, a.drift_ppm, a.irq))
    print("%-28s %12s %12s %12s" % ("", "median us", "p99 us", "max us"))
    for name, r in (("session (ours) alignment", ours), ("midpoint baseline alignment", base)):
        print("%-28s %12.1f %12.1f %12.1f" % (name, r["align_median_us"], r["align_p99_us"], r["align_max_us"]))
    for name, r in (("session (ours) absolute", ours), ("midpoint baseline absolute", base)):
        print("%-28s %12.1f %12.1f %12.1f" % (name, r["abs_median_us"], r["abs_p99_us"], r["abs_max_us"]))
    print("ratio p99 alignment baseline/ours: %.1f" % (base["align_p99_us"] / max(ours["align_p99_us"], 1e-9)))
    print("goal p99 alignment < 100 us: %s" % ("met" if ours["align_p99_us"] < 100 else "NOT met"))
    errs = errors_us(s, node_jsons)
    for n in s.meta["nodes"]:
        st = n["clock"]["stats"]
        e = errs[n["node_id"]][1]
        print("  node %2d: %s, exchanges %d used %d, rtt median %.1f ms, error median %+.0f us p1 %+.0f p99 %+.0f%s; samples %d/%d missing %d" % (
            n["node_id"], st.get("method"), st.get("exchanges", 0), st.get("used", 0), st.get("rtt_median_us", 0) / 1000,
            np.median(e), np.percentile(e, 1), np.percentile(e, 99),
            (", %d exchanges off by 2^30 us (node tick wrap) fixed" % st["wrap_fixed_exchanges"]) if st.get("wrap_fixed_exchanges") else "",
            n["samples"]["received"], n["samples"]["expected"], n["samples"]["missing"]))
    if a.keep:
        print("kept", tmp)
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
