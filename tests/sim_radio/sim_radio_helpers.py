"""Shared set-up for the radio tests: a world directory with N node dirs."""

import shutil
import tempfile
from pathlib import Path

import numpy as np

from myosim import nodefiles

HERE = Path(__file__).resolve().parent


def make_world(n_nodes, speed=4.0, seconds=30.0, emg_s=40.0, first_id=1, base=None):
    """world.json + node dirs in `base` (a pytest tmp dir, which pytest prunes even after an
    interrupted run) or, if its socket paths would pass AF_UNIX's 107 bytes, a short temp dir.

    EMG codes are a deterministic ramp so any frame can be checked sample by sample."""
    if base is not None and len(str(Path(base) / "host.sock").encode()) <= 100:
        d = Path(base)
        d.mkdir(parents=True, exist_ok=True)
    else:
        d = Path(tempfile.mkdtemp(prefix="msr"))
    wj = d / "world.json"
    nodefiles.write_world(wj, d / "air.sock", d / "host.sock", seconds=seconds, speed=speed)
    njs = []
    for i in range(n_nodes):
        nid = first_id + i
        codes = ((np.arange(int(2000 * emg_s)) * 7 + nid * 1000) % 20000 - 10000).astype(np.int16)
        knots = [(0.0, 0), (1000.0, 1_000_000_000)]
        njs.append(nodefiles.write_node_dir(d / ("node%02d" % nid), nid, codes, knots, wj))
    return d, wj, njs


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)
