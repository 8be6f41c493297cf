"""LSL timestamps against the simulator's truth: node-clock model vs arrival-time stamping.

One simulated recording (real firmware, virtual air with 7.5-50 ms connection intervals,
jitter, bursty loss, +/-100 ppm drift) feeds two LSL outlets at once through the recorder's
sink API: ours (`record --lsl`: one timestamp per sample from the live node-clock model) and
the baseline most LSL device apps use (push each block on arrival; LSL stamps the last sample
"now" and back-dates the others at the nominal rate). An inlet in another process
(tests/interop/lsl_receiver.py) records both. Every received EMG sample is matched to its node
sample index (by its values in the recorded session; samples pushed before the inlet connected
are not received and not counted) and so to the true global time of that
node-clock instant; LSL times are put on the simulator's clock through paired readings of
time.time_ns() and LSL's local_clock() taken in the receiver.

Reports, as bench_sync.py does (its functions are reused):
  absolute error   LSL time - true time per sample (includes the common host-stack latency)
  alignment        pairwise difference of two nodes' errors at the same instants (p99)
  jitter           max |deviation of consecutive-sample intervals from their median| (steps between blocks)
and the recorded session's own times (offline fit) for reference.

    python bench/bench_lsl.py                      # 6 nodes, 30 s, real time, 2 % loss
    python bench/bench_lsl.py --nodes 4 --seconds 15 --runs 3
"""

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from bench_sync import errors_us, summarize, truth_time_fn  # noqa: E402


def match_runs(values, ts, session_uv, fs_hz):
    """Session sample index of every received sample (or -1), matching runs of values.

    A run is a stretch of received samples with no time jump (model stamping) or one LSL chunk;
    runs are located in the session by their first 24 values and then checked in full."""
    uv32 = session_uv.astype(np.float32)
    w = 24
    if len(uv32) < w:
        return np.full(len(values), -1)
    win = np.lib.stride_tricks.sliding_window_view(uv32, w)
    weights = np.random.default_rng(0).normal(size=w)
    keys = win.astype(np.float64) @ weights
    index = {}
    for j, k in enumerate(keys):
        index.setdefault(k, j)
    out = np.full(len(values), -1, dtype=np.int64)
    i = 0
    while i + w <= len(values):
        k = values[i:i + w].astype(np.float64) @ weights
        j = index.get(k)
        if j is None:
            i += 1
            continue
        n = 0
        while i + n < len(values) and j + n < len(uv32) and values[i + n] == uv32[j + n]:
            n += 1
        out[i:i + n] = np.arange(j, j + n)
        i += n
    return out


def lsl_errors(stream, session, node_jsons, to_global):
    """{node_id: (true_g_s, err_us)} for one kind of stream ("model" or "arrival")."""
    out = {}
    jitter = []
    for ch in session.channels:
        rec = stream.get(ch.node_id)
        if rec is None:
            continue
        values, ts = rec
        j = match_runs(values, ts, ch.uv, ch.fs_hz)
        ok = j >= 0
        if not np.any(ok):
            continue
        g_true = truth_time_fn(node_jsons[ch.node_id])(ch.node_k[j[ok]] * (1e6 / ch.fs_hz))
        g_lsl = to_global(ts[ok])
        order = np.argsort(g_true)
        out[ch.node_id] = (g_true[order], (g_lsl[order] - g_true[order]) * 1e6)
        # Interval jitter between consecutive node samples (k, k+1) as stamped.
        kk = ch.node_k[j[ok]][order]
        tt = ts[ok][order]
        nxt = np.diff(kk) == 1
        dt = np.diff(tt)[nxt]
        if len(dt):
            jitter.append(np.abs(dt - np.median(dt)) * 1e6)
    return out, (np.concatenate(jitter) if jitter else np.zeros(1)), sum(len(v[0]) for v in out.values())


def one_run(a, seed):
    from myosim import nodefiles
    from myosim.scenario import DEFAULT_LAYOUT, build_scenario
    from myosim.world import World
    from myostride.acquire.backends import resolve_backend
    from myostride.acquire.lsl_outlet import LslOutlet
    from myostride.acquire.recorder import Recorder
    from myostride.session import load_session

    tmp = Path(tempfile.mkdtemp(prefix="bench-lsl-", dir="/tmp"))
    sc = build_scenario(tmp / "sim", nodes=a.nodes, seconds=a.seconds + 20, seed=seed, drift_ppm=a.drift_ppm)
    nodefiles.write_world(sc.world_path, tmp / "air.sock", tmp / "host.sock", a.seconds + 20, speed=1.0)
    world = nodefiles.read_world(sc.world_path)
    node_jsons = {int(json.loads(Path(p).read_text())["node_id"]): p for p in sc.node_jsons}
    mapping = ["%d=%s:%s" % x for x in DEFAULT_LAYOUT[: a.nodes]]
    tag = "b" + uuid.uuid4().hex[:8]
    n_streams = 2 * (2 * a.nodes + 1)  # EMG + IMU per node and markers, for each of the two outlets
    rx = subprocess.Popen([sys.executable, str(ROOT / "tests" / "interop" / "lsl_receiver.py"), "--prefix", tag,
                           "--streams", str(n_streams), "--out", str(tmp / "rx.npz"),
                           "--seconds", str(a.seconds + 600)], stdout=subprocess.PIPE, text=True)
    try:
        line = rx.stdout.readline()  # liblsl loaded in the receiver: it finds the streams as they appear
        if line.strip() != "IMPORTED":
            raise RuntimeError("LSL receiver: %r" % line)
        with World(sc.node_jsons, sc.world_path, {"seed": seed, "loss_pct": a.loss}):
            backend = resolve_backend("sim", world=sc.world_path)
            ours = LslOutlet(backend.host_clock_us, prefix=tag + "m")
            base = LslOutlet(backend.host_clock_us, prefix=tag + "a", stamping="arrival")

            rec = Recorder(tmp / "rec", mapping, a.seconds, backend=backend, sinks=[ours, base])
            asyncio.run(rec.run())
        rx.wait(timeout=700)
        if rx.returncode != 0:
            raise RuntimeError("LSL receiver failed: %s" % rx.stdout.read())
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    s = load_session(tmp / "rec")
    z = np.load(tmp / "rx.npz", allow_pickle=True)
    pairs = z["clock_pairs"]
    # LSL local clock -> simulator global time: local = wall + off (receiver's pairs), g = (wall - epoch) * speed.
    off = float(np.median(pairs[:, 1] - pairs[:, 0] / 1e9))

    def to_global(ts):
        return (np.asarray(ts) - off - world["epoch_ns"] / 1e9) * world["speed"]

    import xml.etree.ElementTree as ET

    streams = {"m": {}, "a": {}}
    for i in range(int(z["n"])):
        info = ET.fromstring(str(z["info_%d" % i]))
        name = info.findtext("name")
        if info.findtext("type") != "EMG":
            continue
        nid = int(info.find("desc").find("channels").find("channel").findtext("node_id"))
        streams[name[len(tag)]][nid] = (z["data_%d" % i][:, 0], z["ts_%d" % i])
    res = {}
    for key, label in (("m", "model"), ("a", "arrival")):
        errs, jit, n = lsl_errors(streams[key], s, node_jsons, to_global)
        r = summarize(errs)
        r["jitter_p99_us"] = float(np.percentile(jit, 99))
        r["jitter_max_us"] = float(np.max(jit))
        r["samples"] = n
        res[label] = r
    res["session"] = summarize(errors_us(s, node_jsons))
    res["session"]["samples"] = int(sum(len(ch.t_s) for ch in s.channels))
    res["dropped_late"] = int(ours.late_samples)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--loss", type=float, default=2.0)
    ap.add_argument("--drift-ppm", type=float, default=100.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    load = open("/proc/loadavg").read().split()[:3]
    print("bench_lsl: %d nodes, %.0f s real time, loss %g %%, drift +/-%g ppm, %d run(s); loadavg %s"
          % (a.nodes, a.seconds, a.loss, a.drift_ppm, a.runs, " ".join(load)))
    rows = []
    for r in range(a.runs):
        t0 = time.time()
        res = one_run(a, a.seed + r)
        rows.append(res)
        print("run %d (seed %d, %.0f s wall):" % (r + 1, a.seed + r, time.time() - t0))
        print("  %-22s %10s %10s %10s %10s %10s %8s" % ("", "abs med us", "abs p99", "align med", "align p99",
                                                      "jitter max", "samples"))
        for label in ("model", "arrival", "session"):
            x = res[label]
            print("  %-22s %10.0f %10.0f %10.0f %10.0f %10s %8d" % (
                {"model": "LSL, node-clock model", "arrival": "LSL, arrival stamping",
                 "session": "session (offline fit)"}[label],
                x["abs_median_us"], x["abs_p99_us"], x["align_median_us"], x["align_p99_us"],
                "%.0f" % x["jitter_max_us"] if "jitter_max_us" in x else "-", x["samples"]))
        print("  ratio alignment p99 arrival/model: %.1f; abs p99 arrival/model: %.1f; late blocks not streamed: %d samples"
              % (res["arrival"]["align_p99_us"] / max(res["model"]["align_p99_us"], 1e-9),
                 res["arrival"]["abs_p99_us"] / max(res["model"]["abs_p99_us"], 1e-9), res["dropped_late"]))
    if len(rows) > 1:
        for label in ("model", "arrival"):
            p = [x[label]["align_p99_us"] for x in rows]
            print("%s alignment p99 over runs: median %.0f us (min %.0f, max %.0f)" % (label, np.median(p), min(p), max(p)))
    print("loadavg after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
