"""Node directories: what the simulator hands each simulated node (see docs/ARCHITECTURE.md).

The simulator computes signals with numpy and writes them here; the firmware's
simulated board (firmware/board_sim.py, under MicroPython) streams them as if
an ADC and IMU produced them on the node's own clock.
"""

import json
import time
from pathlib import Path

import numpy as np

FOOT_DTYPE = np.dtype([("k", "<u4"), ("input", "u1"), ("level", "u1")])


def write_world(path, air_socket, host_socket, seconds, speed=1.0, epoch_ns=None):
    """world.json shared by the air, every node and the host backend."""
    world = {
        "epoch_ns": int(time.time_ns() if epoch_ns is None else epoch_ns),
        "speed": float(speed),
        "air_socket": str(air_socket),
        "host_socket": str(host_socket),
        "seconds": float(seconds),
    }
    Path(path).write_text(json.dumps(world, indent=1))
    return world


def read_world(path):
    return json.loads(Path(path).read_text())


def global_time_s(world, now_ns=None):
    """Global simulation time g for a world (same formula in every process)."""
    now = time.time_ns() if now_ns is None else now_ns
    return (now - world["epoch_ns"]) * world["speed"] / 1e9


def write_node_dir(
    path,
    node_id,
    emg_codes,
    clock_knots,
    world_path,
    emg_hz=2000,
    imu=None,
    imu_hz=100,
    foot=None,
    nv_per_lsb=500,
    lead_off=(),
    battery=None,
):
    """Write one node's files.

    emg_codes: int16 ADC codes from sample 0 (LSB = nv_per_lsb nV).
    clock_knots: [(g_s, node_us), ...] monotonic, piecewise-linear node clock.
    imu: (n, 6) int16 (mg, 0.1 deg/s) or None; foot: [(k, input, level), ...] or None.
    lead_off: [(k_start, k_end), ...] EMG sample ranges with an electrode off.
    """
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    np.asarray(emg_codes, dtype="<i2").tofile(d / "emg.i16")
    if imu is not None:
        np.asarray(imu, dtype="<i2").reshape(-1, 6).tofile(d / "imu.i16")
    if foot is not None:
        arr = np.zeros(len(foot), dtype=FOOT_DTYPE)
        for i, (k, inp, lvl) in enumerate(foot):
            arr[i] = (k, inp, lvl)
        arr.tofile(d / "foot.bin")
    fw_dir = d / "fs"
    fw_dir.mkdir(exist_ok=True)
    knots = [[float(g), int(u)] for g, u in clock_knots]
    if any(b[0] <= a[0] or b[1] <= a[1] for a, b in zip(knots, knots[1:])):
        raise ValueError("clock knots must increase in both global and node time")
    meta = {
        "node_id": int(node_id),
        "emg_hz": int(emg_hz),
        "imu_hz": int(imu_hz),
        "nv_per_lsb": int(nv_per_lsb),
        "fw_dir": str(fw_dir),
        "clock_knots": knots,
        "battery": battery or {"mv_start": 4100, "mv_per_hour": 150},
        "lead_off": [[int(a), int(b)] for a, b in lead_off],
        "imu": imu is not None,
        "footswitch": foot is not None,
        "world": str(world_path),
    }
    (d / "node.json").write_text(json.dumps(meta, indent=1))
    return d / "node.json"
