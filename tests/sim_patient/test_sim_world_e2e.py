"""End to end: `myostride sim` runs real-firmware nodes on the virtual air; a bleak
central (myosim.probe) receives their frames. Checks: the samples are the node
files' samples at the right sample index (through the node's 20 Hz high-pass),
the same seed gives identical samples and byte-identical frames by seq, SIGTERM stops the run early and truth.json
still gets written with the air's faults."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as ss

from myowire import codec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

STREAM_S = 6.0  # simulated seconds collected after START
EMG_HZ = 2000


def _start_sim(out, seed, loss):
    cmd = [sys.executable, "-m", "myostride.cli", "sim", "--nodes", "2", "--seconds", "600", "--seed", str(seed),
           "--speed", "1", "--loss", str(loss), "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None and not (out / "node02" / "node.log").exists():
        time.sleep(0.05)  # World has started the node processes once their logs exist
    return p


def _collect(out, seed, loss):
    """Run the sim, collect STREAM_S of frames from both nodes, stop it with SIGTERM."""
    from myosim import probe

    p = _start_sim(out, seed, loss)
    try:
        assert p.poll() is None, p.communicate()
        frames, _replies, _started = asyncio.run(probe.collect_frames(out / "world.json", [1, 2], duration_s=STREAM_S,
                                                                      scan_timeout_s=40.0))
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, stderr
    assert "interrupted" in stdout
    return frames


def _emg_samples(frames):
    """{node: {k: sample}} from EMG frames (t0_us = floor(k0 * 1e6 / emg_hz))."""
    out = {}
    for node, per in frames.items():
        got = out.setdefault(node, {})
        for f in per.values():
            x = codec.decode_frame(f)
            if x["type"] == "emg":
                k0 = -(-x["t0_us"] * EMG_HZ // 1000000)
                for i, v in enumerate(x["samples"]):
                    got[k0 + i] = v
    return out


def _check_against_node_file(out, node, got):
    """The streamed samples are the file's codes at the same k, high-passed by the node."""
    codes = np.fromfile(out / ("node%02d" % node) / "emg.i16", dtype="<i2").astype(float)
    ks = np.array(sorted(got))
    k0 = ks[0]
    run = ks[: np.argmax(np.diff(ks) != 1) + 1] if np.any(np.diff(ks) != 1) else ks  # first gap-free run
    assert len(run) > EMG_HZ, "less than 1 s of contiguous samples from node %d" % node
    ref = ss.lfilter(*ss.butter(2, 20.0, "highpass", fs=EMG_HZ), codes[k0:run[-1] + 1])
    rx = np.array([got[k] for k in run], dtype=float)
    a, b = rx[400:], ref[400:]  # after both filters settled
    corr = np.corrcoef(a, b)[0, 1]
    shifted = np.corrcoef(a[1:], b[:-1])[0, 1]
    print("node %d: %d contiguous samples, corr with file %.4f, one sample off %.4f" % (node, len(run), corr, shifted))
    assert corr > 0.99 and corr > shifted + 0.02, (node, corr, shifted)


def test_sim_streams_the_node_files_deterministically_and_writes_truth(tmp_path):
    if not (ROOT / "firmware" / "main.py").exists():
        pytest.fail("firmware/main.py is missing: the simulator runs the real firmware")
    base = tmp_path  # (long paths are fine: the CLI puts the sockets in a short temp folder then)
    fa = _collect(base / "a", 5, 10.0)
    sa = _emg_samples(fa)
    for node in (1, 2):
        _check_against_node_file(base / "a", node, sa[node])
    truth = json.loads((base / "a" / "truth.json").read_text())
    assert 0 < truth["ran_s"] < 600
    assert truth["radio"]["loss_pct"] == 10.0 and truth["radio"]["seed"] == 5
    lost = [f for f in truth["faults"] if f["source"] == "air" and f["kind"] == "notify_lost"]
    assert lost and all(f["node"] in (1, 2) for f in lost)
    # Same seed again: identical node files, the same samples wherever both runs got the same k
    # (the node filters from its boot, whenever START comes), and every frame both runs got
    # with the same seq is byte-identical (frames are cut and numbered from boot).
    fb = _collect(base / "b", 5, 10.0)
    sb = _emg_samples(fb)
    for node in (1, 2):
        name = "node%02d/emg.i16" % node
        assert (base / "a" / name).read_bytes() == (base / "b" / name).read_bytes()
        common = [k for k in sa[node] if k in sb[node]]
        assert len(common) > 200, "the two runs' streams barely overlap (node %d)" % node
        bad = [(k, sa[node][k], sb[node][k]) for k in common if sa[node][k] != sb[node][k]]
        assert not bad, "node %d: %d of %d common samples differ, first %s (streams start at %d / %d)" % (
            node, len(bad), len(common), bad[:5], min(sa[node]), min(sb[node]))
        seqs = set(fa[node]) & set(fb[node])
        assert seqs and all(fa[node][q] == fb[node][q] for q in seqs), "node %d: same seq, other bytes" % node
