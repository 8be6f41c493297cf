"""Simulator speed: 12 nodes x 60 s of walking.

(a) synthesize: wall time of myosim.scenario.build_scenario (patient, EMG, IMU,
    clocks, node files), median of --repeats runs; baseline in the same run:
    writing the same number of int16 samples of plain Gaussian noise, so the
    ratio says what the signal model costs on top of producing the bytes.
(b) stream: wall time to run the real firmware nodes through myosim.world.World
    at --speed x real time, with a central (myosim.probe, bleak API) that
    connects to every node, starts it and collects the frames until the last
    simulated second; reports frames and EMG samples received, CPU seconds of
    the nodes and the air, and the fraction of the expected EMG samples that
    arrived (no recovery of lost frames here).

Goal: both well under 60 s on this 2-core machine.

    python bench/bench_sim.py                 # 12 nodes x 60 s, speed 5
    python bench/bench_sim.py --speed 10      # faster: links may drop when the machine is loaded
    python bench/bench_sim.py --quick         # 4 nodes x 10 s
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for sub in ("simulators", "protocol", "host"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

import numpy as np  # noqa: E402

from myosim import nodefiles  # noqa: E402
from myosim.scenario import build_scenario  # noqa: E402


def bench_synthesize(nodes, seconds, repeats, tmp):
    times, base = [], []
    for r in range(repeats):
        t = time.perf_counter()
        sc = build_scenario(Path(tmp) / ("syn%d" % r), nodes=nodes, seconds=seconds, seed=r)
        times.append(time.perf_counter() - t)
        n = sum(x["emg_samples"] for x in sc.truth["nodes"])
        t = time.perf_counter()
        rng = np.random.default_rng(r)
        for i in range(nodes):
            (Path(tmp) / ("base%d_%d.i16" % (r, i))).write_bytes(
                np.rint(rng.standard_normal(n // nodes) * 100).astype("<i2").tobytes())
        base.append(time.perf_counter() - t)
    return statistics.median(times), statistics.median(base), n


def bench_stream(nodes, seconds, speed, tmp, heapsize=None):
    from myosim import probe
    from myosim.world import World

    if not (ROOT / "firmware" / "main.py").exists():
        return None
    out = Path(tmp) / "stream"
    # Scanning and connecting take wall time, i.e. speed x as much simulated time:
    # the node files run long enough for `seconds` of streaming after that.
    setup_s = 15.0 * speed
    sc = build_scenario(out, nodes=nodes, seconds=seconds + setup_s, seed=1)
    nodefiles.write_world(sc.world_path, Path(tmp) / "air.sock", Path(tmp) / "host.sock", seconds + setup_s, speed=speed)
    kw = {"heapsize": heapsize} if heapsize else {}
    t = time.perf_counter()
    with World(sc.node_jsons, sc.world_path, {"seed": 1}, **kw) as w:
        frames, _, started = asyncio.run(probe.collect_frames(
            sc.world_path, [n["node_id"] for n in sc.truth["nodes"]], duration_s=seconds))
        wall = time.perf_counter() - t
        cpu = w.cpu_seconds()
        alive = w.running()[1]
    lost = started.pop("links_lost", [])
    setup_g = max(started.values())
    cov = probe.emg_coverage(frames, 2000)
    got = sum(g for g, _ in cov.values())
    span = sum(s for _, s in cov.values())
    nframes = sum(len(p) for p in frames.values())
    node_cpu = sum(c for c in cpu["nodes"] if c is not None)
    return {"wall": wall, "setup_g": setup_g, "frames": nframes, "emg": got, "span": span,
            "expected": nodes * seconds * 2000, "node_cpu": node_cpu, "air_cpu": cpu["air"], "alive": sum(alive),
            "lost": len(lost)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--speed", type=float, default=5.0, help="world speed factor for (b) (default 5)")
    ap.add_argument("--quick", action="store_true", help="4 nodes x 10 s, 1 repeat")
    ap.add_argument("--heapsize", help="MicroPython heap per node for (b), e.g. 1m (default: World's)")
    ap.add_argument("--skip-stream", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.nodes, a.seconds, a.repeats = 4, 10.0, 1
    with tempfile.TemporaryDirectory() as tmp:
        syn, base, n = bench_synthesize(a.nodes, a.seconds, a.repeats, tmp)
        print("(a) synthesize %d nodes x %g s (%d EMG samples + IMU): median %.2f s over %d runs; "
              "baseline (write the same samples of plain noise) %.3f s; ratio %.1fx" % (
                  a.nodes, a.seconds, n, syn, a.repeats, base, syn / base if base else float("nan")))
        if a.skip_stream:
            return 0
        r = bench_stream(a.nodes, a.seconds, a.speed, tmp, a.heapsize)
        if r is None:
            print("(b) stream: skipped, firmware/main.py is not there yet")
            return 0
        print("(b) stream %d real-firmware nodes x %g s at speed %g: wall %.1f s from start (connecting took "
              "%.1f s of simulated time); %d frames; %d EMG samples = %.1f %% of the %d the nodes' frames span "
              "(%.1f %% of %d expected); CPU nodes %.1f s, air %s s; nodes alive at the end %d/%d; links lost %d" % (
                  a.nodes, a.seconds, a.speed, r["wall"], r["setup_g"], r["frames"], r["emg"],
                  100.0 * r["emg"] / max(1, r["span"]), r["span"], 100.0 * r["emg"] / r["expected"], r["expected"],
                  r["node_cpu"], "%.1f" % r["air_cpu"] if r["air_cpu"] is not None else "?", r["alive"], a.nodes,
                  r["lost"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
