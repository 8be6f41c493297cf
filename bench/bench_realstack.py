"""Real-stack cost: the firmware on MicroPython's NimBLE, the host on a Bumble host stack.

CPU-BOUND FIGURES, NO AIR TIME: Bumble's virtual link delivers PDUs as fast as the CPU
allows (no connection events, no PHY rate), so these numbers say what the *stacks and
processes* cost on this machine, never what a radio would carry.

For N nodes (default 12) and a 1-node baseline in the same run, R repeats each:
  - time from scan start to every node connected (MTU 247), subscribed and CONFIGUREd;
  - streaming at the firmware's own rate (2 kHz EMG + IMU + status) for --seconds:
    per-node and total notifications/s and bytes/s delivered;
  - a resend burst (every node asked for its last --burst-frames frames at once): the
    notifications/s the stacks sustain flat out, and NimBLE ENOMEM back-offs per second;
  - CPU as % of one core: host process (recorder side + Bumble host), link process
    (all Bumble controllers), each node's micropython.
Medians with min-max over the repeats; the 1-node baseline gives per-node ratios.

    python bench/bench_realstack.py                  # 12 nodes, 8 s, 3 repeats
    python bench/bench_realstack.py --quick          # 12 nodes, 4 s, 1 repeat
"""

import argparse
import asyncio
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

from bleak import BleakScanner  # noqa: E402

from myosim import nodefiles  # noqa: E402
from myosim.realstack import build  # noqa: E402
from myosim.realstack.world import RealWorld  # noqa: E402
from myosim.scenario import build_scenario  # noqa: E402
from myosim.world import FIRMWARE_DIR  # noqa: E402
from myostride.acquire.bumble_backend import BumbleClient, BumbleScanner  # noqa: E402
from myostride.acquire.link import NodeLink  # noqa: E402
from myowire import codec, gatt  # noqa: E402

_COUNTERS = re.compile(r"REALSTACK_COUNTERS (\d+) (\d+) (\d+)")


def _clock_us():
    return time.monotonic_ns() // 1000


def node_counters(world):
    """{node_id: (ms, enomem, sent)} from the last counter line of each node's log."""
    out = {}
    for nid, log in zip(world.node_ids, world.node_logs):
        hits = _COUNTERS.findall(log.read_text(errors="replace")) if log.exists() else []
        if hits:
            out[nid] = tuple(int(x) for x in hits[-1])
    return out


async def _cmd(link, opcode, args=b"", attempts=3):
    """A command with retries: on a machine this loaded a reply can take seconds."""
    from myostride.acquire.link import CommandFailed

    for k in range(attempts):
        try:
            return (await link.send(opcode, args, timeout_s=5))[2]
        except CommandFailed:
            if k == attempts - 1:
                raise


def _cpu(world):
    c = world.cpu_seconds()
    return time.process_time(), c["air"] or 0.0, [x or 0.0 for x in c["nodes"]]


async def _run(world, n, seconds, burst_frames):
    ids = list(world.node_ids)
    want = {gatt.node_name(i): i for i in ids}
    found = {}
    all_seen = asyncio.Event()
    stats = {i: {"frames": 0, "bytes": 0} for i in ids}
    seqs = {i: [] for i in ids}

    def seen(dev, adv):
        nid = want.get(adv.local_name)
        if nid is not None and nid not in found:
            found[nid] = dev
            if len(found) == len(ids):
                all_seen.set()

    def on_data(nid, _t, frame):
        stats[nid]["frames"] += 1
        stats[nid]["bytes"] += len(frame)
        seqs[nid].append(codec.decode_frame(frame)["seq"])

    t0 = time.monotonic()
    async with asyncio.timeout(60):
        async with BleakScanner(seen, backend=BumbleScanner, hci=world.hci):
            await all_seen.wait()
    links = {i: NodeLink(i, found[i], _clock_us, on_data, lambda *a: None, lambda *a: None,
                         client_cls=BumbleClient, client_kwargs={"hci": world.hci}) for i in ids}

    async def ready(i):
        await links[i].connect(timeout_s=30)
        await _cmd(links[i], codec.C_CONFIGURE, codec.configure_args(2000, 20, 50, 100))

    out = {}
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*[ready(i) for i in ids])
        out["connect_configure_s"] = time.monotonic() - t0
        async with asyncio.timeout(30):
            await asyncio.gather(*[_cmd(links[i], codec.C_START) for i in ids])
        await asyncio.sleep(1.0)  # settle
        f0 = {i: dict(stats[i]) for i in ids}
        c0, w0 = _cpu(world), time.monotonic()
        await asyncio.sleep(seconds)
        c1, w1 = _cpu(world), time.monotonic()
        wall = w1 - w0
        per_node = [(stats[i]["frames"] - f0[i]["frames"]) / wall for i in ids]
        per_node_b = [(stats[i]["bytes"] - f0[i]["bytes"]) / wall for i in ids]
        out.update(stream_frames_per_node_s=statistics.median(per_node), stream_frames_total_s=sum(per_node),
                   stream_bytes_per_node_s=statistics.median(per_node_b), stream_bytes_total_s=sum(per_node_b),
                   host_cpu_pct=100 * (c1[0] - c0[0]) / wall, link_cpu_pct=100 * (c1[1] - c0[1]) / wall,
                   node_cpu_pct=statistics.median([100 * (b - a) / wall for a, b in zip(c0[2], c1[2])]))
        async with asyncio.timeout(30):
            await asyncio.gather(*[_cmd(links[i], codec.C_STOP) for i in ids])
        await asyncio.sleep(1.0)
        # Resend burst: every node re-sends its last burst_frames frames at once.
        k0 = node_counters(world)
        b0 = {i: stats[i]["frames"] for i in ids}
        c0, w0 = _cpu(world), time.monotonic()
        expect = {}
        for i in ids:
            last = max(seqs[i])
            first = max(min(seqs[i]), last - burst_frames + 1)
            ack = await _cmd(links[i], codec.C_RESEND, codec.resend_args(first, last), attempts=1)
            # OK: value = frames queued; GONE: value = the oldest seq the node still holds
            expect[i] = ack["value"] if ack["status"] == codec.ACK_OK else last - ack["value"] + 1
        deadline = time.monotonic() + 60
        while any(stats[i]["frames"] - b0[i] < expect[i] for i in ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        w1 = time.monotonic()
        c1 = _cpu(world)
        await asyncio.sleep(1.2)  # one more counter line from every node
        k1 = node_counters(world)
        wall = w1 - w0
        got = sum(stats[i]["frames"] - b0[i] for i in ids)
        out.update(burst_frames_total_s=got / wall, burst_frames_per_node_s=got / wall / n, burst_s=wall,
                   burst_complete=all(stats[i]["frames"] - b0[i] >= expect[i] for i in ids),
                   burst_host_cpu_pct=100 * (c1[0] - c0[0]) / wall, burst_link_cpu_pct=100 * (c1[1] - c0[1]) / wall)
        dt = {i: (k1[i][0] - k0[i][0]) / 1000 for i in ids if i in k0 and i in k1}
        out["enomem_per_node_s"] = statistics.median([(k1[i][1] - k0[i][1]) / dt[i] for i in dt if dt[i] > 0]) if dt else None
    finally:
        for link in links.values():
            await link.disconnect()
    return out


def one_run(n, seconds, burst_frames, exe):
    d = Path(tempfile.mkdtemp(prefix="msrb"))
    try:
        sc = build_scenario(d / "sim", nodes=n, condition="normal", seconds=seconds + 60, seed=1)
        nodefiles.write_world(sc.world_path, d / "sim" / "a.sock", d / "sim" / "h.sock", seconds + 60)
        world = RealWorld(sc.node_jsons, sc.world_path, {}, exe=exe, firmware_dir=ROOT / "bench",
                          script="realstack_node.py", extra_path=[FIRMWARE_DIR])
        with world:
            return asyncio.run(_run(world, n, seconds, burst_frames))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def summarise(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


KEYS = (
    ("connect_configure_s", "s", "scan -> all connected (MTU 247), subscribed, configured"),
    ("stream_frames_per_node_s", "/s", "streaming: frames per node"),
    ("stream_frames_total_s", "/s", "streaming: frames, all nodes"),
    ("stream_bytes_per_node_s", "B/s", "streaming: bytes per node"),
    ("stream_bytes_total_s", "B/s", "streaming: bytes, all nodes"),
    ("host_cpu_pct", "%", "streaming: host process CPU (Bumble host + link code)"),
    ("link_cpu_pct", "%", "streaming: link process CPU (all Bumble controllers)"),
    ("node_cpu_pct", "%", "streaming: CPU per node (micropython + NimBLE)"),
    ("burst_frames_total_s", "/s", "resend burst: frames, all nodes (flat out)"),
    ("burst_frames_per_node_s", "/s", "resend burst: frames per node"),
    ("burst_host_cpu_pct", "%", "resend burst: host process CPU"),
    ("burst_link_cpu_pct", "%", "resend burst: link process CPU"),
    ("enomem_per_node_s", "/s", "resend burst: NimBLE ENOMEM back-offs per node"),
)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--burst-frames", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="4 s, 1 repeat")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.repeats = 4.0, 1
    exe = build.ensure_binary()
    print("CPU-BOUND, NO AIR TIME: Bumble's virtual link has no radio timing; not a radio throughput.")
    print("load average at start: %s" % open("/proc/loadavg").read().split()[:3])
    results = {}
    for n in (1, a.nodes):
        runs = []
        for r in range(a.repeats):
            try:
                runs.append(one_run(n, a.seconds, a.burst_frames, exe))
            except Exception as e:  # a run that failed is reported, not averaged
                print("  %d node(s), run %d FAILED: %r" % (n, r + 1, e), flush=True)
                continue
            print("  %d node(s), run %d: %s" % (n, r + 1, {k: round(v, 2) if isinstance(v, float) else v for k, v in runs[-1].items()}), flush=True)
        results[n] = runs
    print("load average at end: %s" % open("/proc/loadavg").read().split()[:3])
    print("\n%-58s %22s %22s %8s" % ("median [min-max] over %d repeats" % a.repeats, "1 node", "%d nodes" % a.nodes, "ratio"))
    for key, unit, label in KEYS:
        if not results[1] or not results[a.nodes]:
            break
        m1, lo1, hi1 = summarise(results[1], key)
        mn, lon, hin = summarise(results[a.nodes], key)
        if mn is None or m1 is None:
            continue
        ratio = mn / m1 if m1 else float("nan")
        print("%-58s %10.1f [%.1f-%.1f] %10.1f [%.1f-%.1f] %7.2fx %s" % (label, m1, lo1, hi1, mn, lon, hin, ratio, unit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
