"""A small simulated world for recorder tests (shared by tests/host_acq and tests/faults)."""

import contextlib
import os
import tempfile
import time
from pathlib import Path

from myosim import nodefiles
from myosim.scenario import build_scenario
from myosim.world import World


@contextlib.contextmanager
def small_world(out_dir, nodes=2, seconds=30.0, seed=3, speed=1.0, radio=None, **scenario_kw):
    """Yield (scenario, World) with `nodes` real-firmware nodes on the virtual air; stopped on exit."""
    out_dir = Path(out_dir)
    sc = build_scenario(out_dir / "sim", nodes=nodes, seconds=seconds, seed=seed, **scenario_kw)
    sock = Path(tempfile.mkdtemp(prefix="msw-", dir="/tmp"))  # short: unix socket paths are limited
    nodefiles.write_world(sc.world_path, sock / "air.sock", sock / "host.sock", seconds, speed=speed)
    w = World(sc.node_jsons, sc.world_path, dict({"seed": seed, "loss_pct": 0.0}, **(radio or {})))
    w.start()
    try:
        yield sc, w
    finally:
        w.stop()
        for f in sock.iterdir():
            with contextlib.suppress(OSError):
                f.unlink()
        with contextlib.suppress(OSError):
            sock.rmdir()


def global_s(sc):
    return nodefiles.global_time_s(nodefiles.read_world(sc.world_path))


def wait_global(sc, g_s, timeout_s=30.0):
    end = time.monotonic() + timeout_s
    while global_s(sc) < g_s and time.monotonic() < end:
        time.sleep(0.05)


def mapping_for(sc):
    return ["%d=%s:%s" % (n["node_id"], n["side"], n["muscle"]) for n in sc.truth["nodes"]]


def child_pids(pid=None):
    """Live descendants of pid (default: this process), from /proc."""
    pid = pid or os.getpid()
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if parts[0] != "Z":
            kids.setdefault(int(parts[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out
