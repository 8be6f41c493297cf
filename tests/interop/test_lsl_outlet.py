"""LSL outlet: streams received by an inlet in another process (tests/interop/lsl_receiver.py).

The first test drives the outlet through the recorder-sink API with known blocks (fast); the
slow one records simulated nodes with `myostride record --lsl` and compares what the other
process received with the recorded session and the simulator's truth.
"""

import contextlib
import os
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mne_lsl")

from myostride.acquire.lsl_outlet import LslOutlet  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "host_acq"))


@contextlib.contextmanager
def receiver(prefix, n_streams, out, seconds=60.0):
    """Start lsl_receiver.py in its own process; yields it once every inlet is open."""
    proc = subprocess.Popen([sys.executable, str(HERE / "lsl_receiver.py"), "--prefix", prefix, "--streams",
                             str(n_streams), "--out", str(out), "--seconds", str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", (line, proc.stderr.read() if proc.poll() is not None else "")
        yield proc
        proc.wait(timeout=seconds + 10)
        assert proc.returncode == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def load_streams(path):
    z = np.load(path, allow_pickle=True)
    out = {}
    for i in range(int(z["n"])):
        info = ET.fromstring(str(z["info_%d" % i]))
        out[info.findtext("name")] = {"info": info, "data": z["data_%d" % i], "ts": z["ts_%d" % i]}
    return out


def channel_meta(info):
    return [{c.tag: c.text for c in ch} for ch in info.find("desc").find("channels").findall("channel")]


class HostClock:
    """The recorder's monotonic host clock (us), as for real radio."""

    def __call__(self):
        return time.monotonic_ns() // 1000


def test_outlet_streams_samples_metadata_and_markers_to_another_process(tmp_path):
    prefix = "t" + uuid.uuid4().hex[:10]
    clock = HostClock()
    out = LslOutlet(clock, board="myostride-ref-s3", prefix=prefix, hold_s=0.2)
    start_us = clock()
    nodes = [{"node_id": 1, "label": "node01", "side": "left", "muscle": "tibialis_anterior"},
             {"node_id": 7, "label": "node07", "side": "right", "muscle": "soleus"}]
    out.on_start({"session_id": "abcdef1234", "start_host_us": start_us, "backend": {"simulated": True},
                  "config": {"emg_hz": 2000, "imu_hz": 100}, "nodes": nodes})
    fs = 2000.0
    t_all = np.arange(4000) / fs * (1 + 50e-6) + 0.0123  # node 1's samples on the session clock
    v_all = np.round(np.sin(np.arange(4000) / 7.0) * 300, 2)
    with receiver(prefix, 5, tmp_path / "r.npz", seconds=30) as _proc:
        out.on_event(0.0, "start_sent", {})
        blocks = [(i, i + 113) for i in range(0, 4000, 113)]
        late = blocks.pop(5)  # a frame that will come back by resend, too late for the live stream
        for n, (a, b) in enumerate(blocks):
            out.on_block(1, "emg", t_all[a:b], v_all[a:b])
            if n % 5 == 0:
                tt = 0.3 + n * 0.05 + np.arange(5) / 100.0
                out.on_block(7, "imu", tt, np.tile(np.arange(6.0), (5, 1)) + n)
            if n == 12:
                out.on_block(1, "emg", t_all[late[0]:late[1]], v_all[late[0]:late[1]])
            if n == 14:
                out.on_block(1, "foot", np.array([0.75, 0.80, 1.30]), np.array([[0, 1], [1, 1], [0, 0]]))
                out.on_block(1, "foot", np.array([1.35]), np.array([[1, 0]]))
                out.on_event(0.9, "lead_off", {"node_id": 7, "on": True})
                out.on_event(1.1, "gone", {"node_id": 7, "first": 40, "last": 41})
            time.sleep(0.002)
        out.on_event(2.0, "stop_sent", {})
        out.on_event(2.1, "session_end", {"status": "complete"})
        out.close()
    got = load_streams(tmp_path / "r.npz")
    emg = got["%s node01 EMG" % prefix]
    info = emg["info"]
    assert info.findtext("type") == "EMG" and info.findtext("channel_format") == "float32"
    assert float(info.findtext("nominal_srate")) == 2000.0
    assert channel_meta(info) == [{"label": "L_TIBANT", "unit": "microvolts", "type": "EMG", "side": "left",
                                   "muscle": "tibialis_anterior", "node_id": "1", "hardware": "myostride-ref-s3"}]
    # Every sample once, in order, float32 microvolts; the late block is not in the live stream.
    keep = np.ones(4000, dtype=bool)
    keep[late[0]:late[1]] = False
    assert np.array_equal(emg["data"][:, 0], v_all[keep].astype(np.float32))
    # One timestamp per sample: the model's time on LSL's clock (monotonic here), not arrival.
    expected = (start_us / 1e6) + t_all[keep]
    assert np.max(np.abs(emg["ts"] - expected)) < 2e-3
    assert np.allclose(np.diff(emg["ts"])[:100], 1 / fs * (1 + 50e-6), atol=1e-6)
    imu = got["%s node07 IMU" % prefix]
    assert imu["data"].shape[1] == 6 and [c["unit"] for c in channel_meta(imu["info"])][2:4] == ["mg", "deg/s"]
    assert [c["side"] for c in channel_meta(imu["info"])] == ["right"] * 6
    marks = got["%s markers" % prefix]
    text = list(marks["data"])
    assert text[0] == "start" and text[-1] == "end complete" and "stop" in text
    assert "lead_off node07" in text and "gap node07 frames 40-41 lost" in text
    gaps = [s for s in text if s.startswith("gap node01 EMG")]
    assert len(gaps) == 1 and abs(float(gaps[0].split()[3]) - 113 / fs) < 1e-3
    # Footswitch: first switch closed -> foot strike, last opened -> foot off, at the edge times.
    strike = marks["ts"][text.index("foot_strike_left")]
    off = marks["ts"][text.index("foot_off_left")]
    assert abs(strike - (start_us / 1e6 + 0.75)) < 2e-3 and abs(off - (start_us / 1e6 + 1.35)) < 2e-3
    assert text.count("foot_strike_left") == 1 and text.count("foot_off_left") == 1
