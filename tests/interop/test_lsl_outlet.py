"""LSL outlet: streams received by an inlet in another process (tests/interop/lsl_receiver.py).

The first test drives the outlet through the recorder-sink API with known blocks (fast); the
slow one records simulated nodes with `myostride record --lsl` and compares what the other
process received with the recorded session and the simulator's truth.
"""

import contextlib
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
def receiver(prefix, n_streams, out, seconds=60.0, wait_for="READY"):
    """Start lsl_receiver.py in its own process; yields it once it printed wait_for:
    "READY" (every inlet open: for streams that exist already) or "IMPORTED" (liblsl loaded)."""
    proc = subprocess.Popen([sys.executable, str(HERE / "lsl_receiver.py"), "--prefix", prefix, "--streams",
                             str(n_streams), "--out", str(out), "--seconds", str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for want in ("IMPORTED", "READY")[: 1 if wait_for == "IMPORTED" else 2]:
            line = proc.stdout.readline()
            assert line.strip() == want, (line, proc.stderr.read() if proc.poll() is not None else "")
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
        blocks = [(i, min(i + 113, 4000)) for i in range(0, 4000, 113)]
        resent = blocks.pop(5)     # comes back by resend while the stream still waits for it
        too_late = blocks.pop(19)  # comes back after the stream moved on
        for n, (a, b) in enumerate(blocks):
            out.on_samples(1, "emg", a, t_all[a:b], v_all[a:b])
            if n % 5 == 0:
                tt = 0.3 + n * 0.05 + np.arange(5) / 100.0
                out.on_samples(7, "imu", 10 * n, tt, np.tile(np.arange(6.0), (5, 1)) + n)
            if n == 8:
                out.on_samples(1, "emg", resent[0], t_all[resent[0]:resent[1]], v_all[resent[0]:resent[1]])
            if n == 25:
                time.sleep(0.4)  # longer than the hold: the stream goes on without the block
            if n == 27:
                out.on_samples(1, "emg", too_late[0], t_all[too_late[0]:too_late[1]], v_all[too_late[0]:too_late[1]])
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
    # Every sample once, in order, float32 microvolts; the resend that came in time is in its place,
    # the one that came after the stream moved on is not (it is in raw.log) and a marker says so.
    keep = np.ones(4000, dtype=bool)
    keep[too_late[0]:too_late[1]] = False
    assert out.late_samples == 113
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
    gaps = [(t, m) for t, m in zip(marks["ts"], text) if m.startswith("gap node01 EMG")]
    assert [m for _t, m in gaps] == ["gap node01 EMG 113 samples 0.0565 s"]
    assert abs(gaps[0][0] - (start_us / 1e6 + t_all[too_late[0]])) < 2e-3
    # Footswitch: first switch closed -> foot strike, last opened -> foot off, at the edge times.
    strike = marks["ts"][text.index("foot_strike_left")]
    off = marks["ts"][text.index("foot_off_left")]
    assert abs(strike - (start_us / 1e6 + 0.75)) < 2e-3 and abs(off - (start_us / 1e6 + 1.35)) < 2e-3
    assert text.count("foot_strike_left") == 1 and text.count("foot_off_left") == 1


@pytest.mark.slow
def test_record_lsl_streams_what_is_recorded_with_model_times_and_gait_markers(tmp_path, capsys, monkeypatch):
    """`myostride record --lsl` on simulated nodes: an inlet in another process gets every EMG sample
    (the recorded session's values), one timestamp per sample near the simulator's true time of
    that sample, and foot strike/off markers near the simulator's true events."""
    from myosim import clocks, nodefiles
    from myostride.cli import main
    from myostride.session import load_session
    from simworld import mapping_for, small_world

    monkeypatch.delenv("MYOSTRIDE_SIM_WORLD", raising=False)
    prefix = "e" + uuid.uuid4().hex[:10]
    layout = [(1, "left", "tibialis_anterior"), (7, "right", "tibialis_anterior")]
    with small_world(tmp_path, nodes=2, seconds=40.0, seed=4, layout=layout) as (sc, _w):
        with receiver(prefix, 5, tmp_path / "rx.npz", seconds=90, wait_for="IMPORTED") as _rx:
            args = ["record", "--backend", "sim", "--world", str(sc.world_path), "--seconds", "12", "--no-live",
                    "--out", str(tmp_path / "rec"), "--lsl", "--lsl-name", prefix]
            for m in mapping_for(sc):
                args += ["--map", m]
            assert main(args) == 0, capsys.readouterr().err
    world = nodefiles.read_world(sc.world_path)
    got = load_streams(tmp_path / "rx.npz")
    z = np.load(tmp_path / "rx.npz", allow_pickle=True)
    pairs = z["clock_pairs"]
    off = float(np.median(pairs[:, 1] - pairs[:, 0] / 1e9))

    def local_of_global(g_s):  # the simulator's global time on this machine's LSL clock
        return world["epoch_ns"] / 1e9 + np.asarray(g_s) / world["speed"] + off

    s = load_session(tmp_path / "rec")
    for ch in s.channels:
        emg = got["%s %s EMG" % (prefix, ch.label)]
        meta = channel_meta(emg["info"])[0]
        assert (meta["side"], meta["muscle"], meta["node_id"]) == (ch.side, ch.muscle, str(ch.node_id))
        vals, ts = emg["data"][:, 0], emg["ts"]
        # No loss on this air: everything from the moment the inlet connected (late on a busy
        # machine: it has to import liblsl and resolve the streams) to the end.
        assert len(vals) >= 4000
        # A contiguous run of the recorded samples, value for value (float32 microvolts).
        uv32 = ch.uv.astype(np.float32)
        j0 = int(np.flatnonzero(np.all(np.lib.stride_tricks.sliding_window_view(uv32, 32) == vals[:32], axis=1))[0])
        assert np.array_equal(vals, uv32[j0:j0 + len(vals)]) and j0 + len(vals) == len(uv32)
        # One time per sample, from the live clock model: near the true time of that node-clock
        # instant (the live estimate uses round-trip midpoints: within about half the longest
        # connection interval, 25 ms, plus the host's latency), and regular: no steps between
        # blocks (intervals within 1 us of the node's period).
        node = next(n for n in sc.truth["nodes"] if n["node_id"] == ch.node_id)
        true_g = clocks.sample_times_s(node["clock"], ch.node_k[j0:j0 + len(vals)], ch.fs_hz)
        assert np.percentile(np.abs(ts - local_of_global(true_g)), 99) < 0.03
        dt = np.diff(ts)
        assert np.all(dt > 0) and np.percentile(np.abs(dt - np.median(dt)), 99) < 1e-6
    marks = got["%s markers" % prefix]
    text = list(marks["data"])
    assert "stop" in text and text[-1] == "end complete"  # "start" may precede the inlet's connection
    assert not [m for m in text if m.startswith("gap")]  # no loss on this air: no holes in the streams
    truth = sc.truth
    for side in ("left", "right"):
        for key, name in (("foot_strike_s", "foot_strike"), ("foot_off_s", "foot_off")):
            detected = [t for t, m in zip(marks["ts"], text) if m == "%s_%s" % (name, side)]
            assert len(detected) >= 2, (side, key, text)
            true_local = local_of_global(truth["gait"]["events"][side][key])
            err = [np.min(np.abs(true_local - t)) for t in detected]
            assert max(err) < 0.08, (side, key, err)
