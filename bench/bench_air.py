"""Virtual air cost: CPU of the air process per simulated node, and per notification.

Starts a world of N nodes (the real firmware if firmware/main.py exists, else
the radio tests' echo peripheral), connects a BleakClient to each through
myosim.backend, starts streaming and measures for --seconds of wall time:
  - air CPU as % of one core, per node, and air CPU us per notification;
  - micropython CPU per node (% of one core);
  - EMG samples delivered vs. 2 kHz x the elapsed simulated time;
  - how late the air's connection-event timers fire (wall us, median and p99).
Baseline in the same run: the same measurement with 1 node, so the ratio
(per-node air cost at N nodes / at 1 node) shows how the air scales.

    python bench/bench_air.py                       # 12 nodes, speed 4, 8 s, 3 repeats
    python bench/bench_air.py --quick               # 12 nodes, speed 4, 3 s, 1 repeat
"""

import argparse
import asyncio
import os
import re
import shutil
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
from bleak import BleakClient, BleakScanner  # noqa: E402

from myosim import nodefiles  # noqa: E402
from myosim.backend import SimClient, SimScanner, host_clock_us  # noqa: E402
from myosim.world import FIRMWARE_DIR, World  # noqa: E402
from myowire import codec, gatt  # noqa: E402

ECHO_DIR = ROOT / "tests" / "sim_radio"


def make_world(n, speed, seconds):
    d = Path(tempfile.mkdtemp(prefix="msb"))
    wj = d / "world.json"
    nodefiles.write_world(wj, d / "air.sock", d / "host.sock", seconds=seconds, speed=speed)
    rng = np.random.default_rng(0)
    njs = []
    for i in range(n):
        codes = rng.normal(0, 300, int(2000 * (seconds + 10))).astype(np.int16)
        njs.append(nodefiles.write_node_dir(d / ("node%02d" % (i + 1)), i + 1, codes, [(0.0, 0), (1e4, 10**10)], wj))
    return d, wj, njs


async def run_host(n, wall_s, world, settle_s=1.0):
    """Connect to n nodes, start them, let them settle, then count EMG samples for wall_s.

    Returns (frames, g_start, g_end, cpu_start, cpu_end, wall) of the counting window."""
    found = {}
    done = asyncio.Event()

    def seen(dev, adv):
        if (adv.local_name or "").startswith(gatt.NAME_PREFIX):
            found[dev.address] = dev
            if len(found) >= n:
                done.set()

    async with BleakScanner(seen, backend=SimScanner):
        await asyncio.wait_for(done.wait(), 20.0)
    counts = [0] * n
    clients = []
    reasm = [codec.Reassembler() for _ in range(n)]

    async def one(i, dev):
        c = BleakClient(dev, backend=SimClient, timeout=20.0)
        await c.connect()

        def on_data(_ch, b, i=i):
            f = reasm[i].feed(bytes(b))
            if f is not None and f[0] & 0x0F == codec.T_EMG:
                counts[i] += f[3]  # EMG samples in the frame

        await c.start_notify(gatt.DATA_UUID, on_data)
        await c.write_gatt_char(gatt.CONTROL_UUID, codec.encode_command(codec.BROADCAST, 1, host_clock_us(), codec.C_START), response=True)
        clients.append(c)

    await asyncio.gather(*(one(i, d) for i, d in enumerate(found.values())))
    await asyncio.sleep(settle_s)
    g0 = host_clock_us() / 1e6
    cpu0 = world.cpu_seconds()
    t0 = time.monotonic()
    c0 = list(counts)
    await asyncio.sleep(wall_s)
    g1 = host_clock_us() / 1e6
    cpu1 = world.cpu_seconds()
    t1 = time.monotonic()
    frames = sum(counts) - sum(c0)
    await asyncio.gather(*(c.disconnect() for c in clients))
    return frames, g0, g1, cpu0, cpu1, t1 - t0


def measure(n, speed, wall_s, use_firmware):
    d, wj, njs = make_world(n, speed, wall_s * speed + 60)
    os.environ["MYOSTRIDE_SIM_WORLD"] = str(wj)
    kw = {} if use_firmware else {"firmware_dir": ECHO_DIR, "script": "upy_echo.py"}
    try:
        with World(njs, wj, {"seed": 1}, verbose_air=True, **kw) as w:
            frames, g0, g1, cpu0, cpu1, wall = asyncio.run(run_host(n, wall_s, w))
            air_total_s = w.cpu_seconds()["air"]
            dead = [i for i, up in enumerate(w.running()[1]) if not up]
            if dead or None in cpu0["nodes"] + cpu1["nodes"]:
                logs = "\n".join("--- %s\n%s" % (w.node_logs[i], w.node_logs[i].read_text()[-2000:]) for i in range(n) if not w.running()[1][i])
                raise SystemExit("bench_air: node process(es) died during the run:\n" + logs)
        log = (d / "air.log").read_text()
        m = re.search(r"'notify_tx': (\d+)", log)
        notes = int(m.group(1)) if m else 0
        m = re.search(r"event timers late \(wall us\): median (\d+), p99 (\d+)", log)
        late = (int(m.group(1)), int(m.group(2))) if m else (float("nan"), float("nan"))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    air_s = cpu1["air"] - cpu0["air"]
    node_s = [b - a for a, b in zip(cpu0["nodes"], cpu1["nodes"])]
    expected = n * (g1 - g0) * 2000.0
    return {
        "air_pct_per_node": 100.0 * air_s / wall / n,
        "air_us_per_notification": 1e6 * air_total_s / max(1, notes),  # whole run incl. scanning
        "node_pct": 100.0 * statistics.median(node_s) / wall,
        "delivered_pct": 100.0 * frames / expected,
        "notes": notes,
        "late_median_us": late[0],
        "late_p99_us": late[1],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--speed", type=float, default=4.0)
    ap.add_argument("--seconds", type=float, default=8.0, help="wall seconds of streaming per run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="3 s, 1 repeat")
    ap.add_argument("--echo", action="store_true", help="use the test echo peripheral even if the firmware exists")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.repeats = 3.0, 1
    fw = (FIRMWARE_DIR / "main.py").exists() and not a.echo
    print("virtual air: %s nodes, speed %gx, %g s wall per run, %d repeat(s)" % ("firmware" if fw else "echo", a.speed, a.seconds, a.repeats))
    res = {}
    for n in (1, a.nodes):
        runs = [measure(n, a.speed, a.seconds, fw) for _ in range(a.repeats)]
        res[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        r = res[n]
        print(
            "  %2d nodes: air %.2f %% of a core per node, %.0f us air CPU per notification (%d notifications); "
            "micropython %.1f %% of a core per node; EMG samples delivered %.1f %% of the simulated time's; "
            "connection-event timers late by %.0f us median, %.0f us p99 (wall)"
            % (n, r["air_pct_per_node"], r["air_us_per_notification"], r["notes"], r["node_pct"], r["delivered_pct"], r["late_median_us"], r["late_p99_us"])
        )
    ratio = res[a.nodes]["air_pct_per_node"] / res[1]["air_pct_per_node"]
    total = res[a.nodes]["air_pct_per_node"] * a.nodes + res[a.nodes]["node_pct"] * a.nodes
    print("ratio: air cost per node at %d nodes / at 1 node (baseline) = %.2f" % (a.nodes, ratio))
    print("total (air + nodes) at %d nodes, speed %gx: %.0f %% of one core (machine has %d)" % (a.nodes, a.speed, total, os.cpu_count()))


if __name__ == "__main__":
    main()
