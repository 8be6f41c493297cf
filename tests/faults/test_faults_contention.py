"""A recording with two busy processes beside it (the demo hang of issue 12 needed exactly this):
it completes, its end is bounded, nothing is lost that the nodes still held."""

import asyncio
import subprocess
import sys
import time

import pytest

from faultcheck import check_loadable_and_honest, end_seconds
from myostride.acquire import recorder as recmod
from myostride.acquire.backends import resolve_backend
from myostride.acquire.recorder import Recorder
from simworld import mapping_for, small_world

pytestmark = pytest.mark.slow


def busy_processes(n=2):
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def test_recording_under_cpu_contention_completes_and_ends_in_bound(tmp_path):
    with small_world(tmp_path, nodes=4, seconds=90.0, seed=51, radio={"loss_pct": 2.0}) as (sc, _w):
        busy = busy_processes(2)
        try:
            for i in range(2):
                out = tmp_path / ("c%d" % i)
                rec = Recorder(out, mapping_for(sc), 6.0, backend=resolve_backend("sim", world=sc.world_path))
                t0 = time.monotonic()
                man = asyncio.run(rec.run())
                wall = time.monotonic() - t0
                assert man["status"] == "complete", man["end_reason"]
                assert end_seconds(out) < recmod.STOP_BOUND_S + rec.drain_s + 2 * recmod.CLOSE_BOUND_S + 1.0
                assert wall < 6.0 + 10.0 + 20.0  # scan/connect/sync + the bounded end
                check_loadable_and_honest(out)
        finally:
            for p in busy:
                p.kill()
                p.wait()
