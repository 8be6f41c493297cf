"""Host CPU load while receiving 12 nodes at 2 kHz in real time.

Starts a simulated world (real firmware under micropython, virtual air) at
speed 1.0 and measures process CPU seconds per wall second of streaming:

  baseline   a bare bleak receiver: 12 BleakClients subscribed, frames only counted
  recorder   myostride's recorder: reassembly, raw log (write + fsync), sequence
             tracking, resend planning, 20 sync pings/s per node, live statistics
  air        the virtual air process (simulator cost, not the host's)
  nodes      the 12 micropython node processes (simulator cost)

    python bench/bench_host_cpu.py                    # 12 nodes, 20 s each phase
    python bench/bench_host_cpu.py --nodes 4 --seconds 8 --repeat 1   # quick
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path


async def bare_receive(node_ids, seconds, world_path):
    """Baseline: connect, START, count notifications, STOP; returns (cpu_s, wall_s, frames)."""
    from bleak import BleakClient, BleakScanner

    from myosim.backend import SimClient, SimScanner
    from myostride.acquire.scanner import parse_node
    from myowire import codec, gatt

    found = {}
    done = asyncio.Event()

    def on_adv(dev, adv):
        n = parse_node(dev, adv)
        if n is not None:
            found[n.node_id] = n
            if set(node_ids) <= set(found):
                done.set()

    async with BleakScanner(on_adv, backend=SimScanner, world=str(world_path)):
        await asyncio.wait_for(done.wait(), 30)
    clients = []
    count = [0]

    def on_note(_c, data):
        count[0] += 1

    for nid in node_ids:
        c = BleakClient(found[nid].device, backend=SimClient, world=str(world_path))
        await c.connect()
        await c.start_notify(gatt.DATA_UUID, on_note)
        clients.append((nid, c))
    for i, (nid, c) in enumerate(clients):
        await c.write_gatt_char(gatt.CONTROL_UUID, codec.encode_command(nid, 1000 + i, 0, codec.C_START), response=False)
    await asyncio.sleep(1.0)
    cpu0, wall0, n0 = time.process_time(), time.monotonic(), count[0]
    await asyncio.sleep(seconds)
    cpu1, wall1, n1 = time.process_time(), time.monotonic(), count[0]
    for i, (nid, c) in enumerate(clients):
        await c.write_gatt_char(gatt.CONTROL_UUID, codec.encode_command(nid, 2000 + i, 0, codec.C_STOP), response=False)
    await asyncio.sleep(0.5)
    for _nid, c in clients:
        await c.disconnect()
    return cpu1 - cpu0, wall1 - wall0, n1 - n0


async def recorder_receive(node_ids, seconds, world_path, out):
    from myosim.scenario import DEFAULT_LAYOUT
    from myostride.acquire.recorder import record_session

    mapping = ["%d=%s:%s" % x for x in DEFAULT_LAYOUT if x[0] in node_ids]
    marks = []

    def progress(snap):
        if snap["elapsed_s"] >= 1.0 and not snap["stopping"]:
            marks.append((time.process_time(), time.monotonic()))

    man = await record_session(out, mapping, seconds + 1.5, backend="sim", world=world_path, progress=progress)
    (c0, w0), (c1, w1) = marks[0], marks[-1]
    # frames per wall second over the whole session, scaled to the measured window
    frames = sum(n["frames"]["received"] for n in man["nodes"]) / max(man["duration_s"], 1e-9) * (w1 - w0)
    return c1 - c0, w1 - w0, frames


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=20.0, help="streaming seconds measured per phase")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--loss", type=float, default=2.0)
    a = ap.parse_args(argv)

    from myosim import nodefiles
    from myosim.scenario import build_scenario
    from myosim.world import World

    tmp = Path(tempfile.mkdtemp(prefix="bench-cpu-", dir="/tmp"))
    total = (a.seconds * 2 + 25) * a.repeat + 20
    sc = build_scenario(tmp / "sim", nodes=a.nodes, seconds=total, seed=2)
    nodefiles.write_world(sc.world_path, tmp / "air.sock", tmp / "host.sock", total, speed=1.0)
    ids = list(range(1, a.nodes + 1))
    base, rec = [], []
    with World(sc.node_jsons, sc.world_path, {"seed": 2, "loss_pct": a.loss}) as w:
        cpu_w0 = w.cpu_seconds()
        t_w0 = time.monotonic()
        for r in range(a.repeat):
            base.append(asyncio.run(bare_receive(ids, a.seconds, sc.world_path)))
            rec.append(asyncio.run(recorder_receive(ids, a.seconds, sc.world_path, tmp / ("rec%d" % r))))
        cpu_w1 = w.cpu_seconds()
        t_w1 = time.monotonic()
    wall = t_w1 - t_w0
    air = (cpu_w1["air"] - cpu_w0["air"]) / wall
    nodes = sum(b - a_ for a_, b in zip(cpu_w0["nodes"], cpu_w1["nodes"])) / wall

    def load(runs):
        return statistics.median(c / w_ for c, w_, _n in runs)

    def rate(runs):
        return statistics.median(n / w_ for _c, w_, n in runs)

    b, r = load(base), load(rec)
    print("bench_host_cpu: %d nodes at 2 kHz, real time, %g s per phase, %d repeat(s), loss %g %%" % (a.nodes, a.seconds, a.repeat, a.loss))
    print("%-34s %10s %14s" % ("", "CPU s/s", "frames/s"))
    print("%-34s %10.3f %14.0f" % ("host: bare bleak receive (baseline)", b, rate(base)))
    print("%-34s %10.3f %14.0f" % ("host: myostride recorder", r, rate(rec)))
    print("%-34s %10.3f" % ("sim: virtual air (whole run)", air))
    print("%-34s %10.3f" % ("sim: %d node processes (whole run)" % a.nodes, nodes))
    print("recorder / baseline CPU ratio: %.2f; recorder uses %.1f %% of one core" % (r / max(b, 1e-9), 100 * r))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
