"""End to end: real firmware nodes under micropython on the virtual air, recorded through bleak.

One simulated world (12 nodes, 5 % bursty loss, forced link losses) serves
every check, run in order by one test (so pytest-xdist never starts two
12-node worlds): record all 12 and check every sample against the node files
and the true clocks; scan; kill a recorder process with SIGKILL and recover;
stop a recorder with Ctrl-C; rebuild from the raw log.
"""

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
from scipy import signal as sps

from myosim import nodefiles
from myowire import codec
from myosim.scenario import DEFAULT_LAYOUT, build_scenario
from myosim.world import World
from myostride.acquire.recorder import record_session
from myostride.session import load_session

REPO = Path(__file__).resolve().parents[2]
WORLD_S = 75.0
DISCONNECTS = [{"node": 3, "at_s": 12.0, "down_s": 1.5}, {"node": 9, "at_s": 15.0, "down_s": 2.0}, {"node": 5, "at_s": 19.0, "down_s": 1.0}]

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("acqworld")
    sc = build_scenario(d / "sim", nodes=12, seconds=WORLD_S, seed=11)
    sock = Path("/tmp") / ("acq-%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000))
    sock.mkdir()
    nodefiles.write_world(sc.world_path, sock / "air.sock", sock / "host.sock", WORLD_S, speed=1.0)
    w = World(sc.node_jsons, sc.world_path, {"seed": 11, "loss_pct": 5.0, "burst_len": 3.0, "disconnects": DISCONNECTS})
    w.start()
    try:
        yield d, sc, w
    finally:
        w.stop()
        for f in sock.iterdir():
            f.unlink()
        sock.rmdir()


def _g(sc):
    return nodefiles.global_time_s(nodefiles.read_world(sc.world_path))


def _node_meta(sc):
    out = {}
    for p in sc.node_jsons:
        meta = json.loads(Path(p).read_text())
        out[meta["node_id"]] = (Path(p).parent, meta)
    return out


def _reference_codes(node_dir, meta, status):
    """What the node streams: its ADC codes through its high-pass (firmware's Q14 coefficients,
    corner and order as its status frame reports them)."""

    coeffs = {}
    exec((REPO / "firmware" / "coeffs.py").read_text(), coeffs)
    order = 4 if status["filter_flags"] & codec.FF_HIGHPASS_4TH else 2
    sec = np.asarray(coeffs["HIGHPASS"][(meta["emg_hz"], status["highpass_hz"], order)], dtype=np.float64) / 2.0 ** coeffs["Q"]
    sos = np.array([[s[0], s[1], s[2], 1.0, s[3], s[4]] for s in sec.reshape(-1, 5)])
    raw = np.fromfile(node_dir / "emg.i16", dtype="<i2").astype(np.float64)
    return sps.sosfilt(sos, raw)


def _true_g(meta, node_us):
    k = np.asarray(meta["clock_knots"], dtype=np.float64)
    return np.interp(node_us, k[:, 1], k[:, 0])


def check_record_12_nodes_with_loss_and_disconnects_keeps_every_sample(world):
    d, sc, w = world
    while _g(sc) < 6.0:  # start so that both forced link losses fall inside the recording
        time.sleep(0.2)
    mapping = ["%d=%s:%s" % x for x in DEFAULT_LAYOUT]
    man = asyncio.run(record_session(d / "rec12", mapping, 12.0, backend="sim", world=sc.world_path))
    assert man["status"] == "complete", man.get("end_reason")
    s = load_session(d / "rec12")
    assert len(s.channels) == 12
    metas = _node_meta(sc)
    start_g = s.meta["start_host_us"] / 1e6  # sim host clock = global time
    dropped = 0
    for ch in s.channels:
        entry = next(n for n in s.meta["nodes"] if n["node_id"] == ch.node_id)
        # every sample the node sent is there, in order, once; nothing else
        assert np.all(np.diff(ch.t_s) > 0)
        assert np.all(np.diff(ch.node_k) >= 1)
        holes = np.nonzero(np.diff(ch.node_k) > 1)[0]
        assert len(holes) == len(ch.gaps) == len(entry["gaps"])
        reasons = {r for _a, _b, r in entry["frames"]["missing_ranges"]}
        assert reasons <= {"gone"}, (ch.label, entry["frames"]["missing_ranges"])  # only what the node no longer had
        assert entry["samples"]["missing"] == 0, (ch.label, entry["samples"], entry["frames"])
        assert entry["samples"]["received"] == len(ch.uv) > 12 * 2000 * 0.95
        # values: the node's own ADC codes through its high-pass, sample for sample
        node_dir, meta = metas[ch.node_id]
        assert not ch.status["filter_flags"] & codec.FF_POWERLINE  # powerline removal off, as configured
        ref = _reference_codes(node_dir, meta, ch.status)[ch.node_k]
        codes = ch.uv * 1000.0 / meta["nv_per_lsb"]
        diff = np.abs(codes - ref)
        assert np.percentile(diff, 99.9) <= 3.0, (ch.label, np.percentile(diff, 99.9))
        # time: on the global clock. A loose bound: under CPU load a node whose connection-event
        # lattice cannot be found falls back to midpoint sync, whose worst case is half the longest
        # connection interval (25 ms). bench/bench_sync.py measures the accuracy (p99 < 0.1 ms).
        g_true = _true_g(meta, ch.node_k * 1e6 / ch.fs_hz)
        err_ms = (ch.t_s + start_g - g_true) * 1e3
        assert np.percentile(np.abs(err_ms), 99) < 25.0, (ch.label, np.percentile(np.abs(err_ms), 99))
        dropped += entry["disconnects"]
        if entry["disconnects"]:
            assert entry["connects"] >= 2 and entry["frames"]["recovered"] > 0
    assert dropped >= 1  # the forced link losses happened while recording
    # The connection events' drift is the adapter's: the nodes with a lattice share one figure
    # (a node keeps its own only when its arrivals clearly disagree).
    lattice = [n["clock"]["stats"] for n in s.meta["nodes"] if n["clock"]["stats"].get("method") == "lattice"]
    assert sum("common" in st["lattice_drift_from"] for st in lattice) >= len(lattice) / 2, lattice
    total_recovered = sum(n["frames"]["recovered"] for n in s.meta["nodes"])
    assert total_recovered > 12  # 5 % loss: resends really filled holes


def check_recorder_killed_mid_trial_is_recovered(world):
    d, sc, w = world
    out = d / "killed"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in ("host", "protocol", "simulators"))
    cmd = [sys.executable, "-m", "myostride.cli", "record", "--backend", "sim", "--world", str(sc.world_path),
           "--seconds", "60", "--no-live", "--out", str(out), "--map", "2=left:gastrocnemius_medialis", "--map", "8=right:gastrocnemius_medialis"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            log = out / "raw.log"
            if log.exists() and log.stat().st_size > 80_000:  # a few seconds of two nodes
                break
            if proc.poll() is not None:
                pytest.fail("recorder exited early: %s" % proc.stderr.read().decode())
            time.sleep(0.2)
        size_at_kill = (out / "raw.log").stat().st_size
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = json.loads((out / "session.json").read_text())
    assert before["status"] == "recording"  # what the killed recorder left behind
    s = load_session(out)
    assert s.meta["status"] == "interrupted" and s.meta["interrupted"] is True
    assert s.meta["recovery"]["from"] == "raw.log"
    assert s.meta["raw_log"]["bytes"] >= size_at_kill
    assert len(s.channels) == 2
    for ch in s.channels:
        assert len(ch.uv) > 1000  # everything written before the kill
        assert np.all(np.diff(ch.t_s) > 0) and np.all(np.diff(ch.node_k) >= 1)
    after = json.loads((out / "session.json").read_text())
    assert after["status"] == "interrupted"
    # and the same again from the raw log alone
    (out / "session.json").unlink()
    again = load_session(out)
    assert [len(c.uv) for c in again.channels] == [len(c.uv) for c in s.channels]


def check_scan_lists_the_simulated_nodes(world, capsys):
    from myostride import cli

    d, sc, w = world
    assert cli.main(["scan", "--backend", "sim", "--world", str(sc.world_path), "--seconds", "3", "--json"]) == 0
    nodes = json.loads(capsys.readouterr().out)
    assert {n["node_id"] for n in nodes} >= {1, 5, 12}  # advertising nodes (some may be connected elsewhere)
    for n in nodes:
        assert n["name"] == "myo-%02d" % n["node_id"] and n["firmware"] and 0 <= n["battery_pct"] <= 100 and n["rssi_dbm"] < 0


def check_ctrl_c_stops_cleanly_and_keeps_everything(world):
    d, sc, w = world
    out = d / "ctrlc"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in ("host", "protocol", "simulators"))
    cmd = [sys.executable, "-m", "myostride.cli", "record", "--backend", "sim", "--world", str(sc.world_path),
           "--no-live", "--out", str(out), "--map", "4=left:vastus_lateralis", "--map", "10=right:vastus_lateralis"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not ((out / "raw.log").exists() and (out / "raw.log").stat().st_size > 60_000):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.decode()
    man = json.loads((out / "session.json").read_text())
    assert man["status"] == "stopped" and not man["interrupted"] and man["end_reason"] == "stopped by the user"
    for n in man["nodes"]:
        assert n["samples"]["missing"] == 0 and n["samples"]["received"] > 1000
    assert b"stopped" in stdout
    # rebuild from the raw log alone gives the same per-node numbers
    from myostride import cli

    (out / "session.json").unlink()
    assert cli.main(["record", "--rebuild", str(out)]) == 0
    again = json.loads((out / "session.json").read_text())
    assert [n["samples"] for n in again["nodes"]] == [n["samples"] for n in man["nodes"]]


def test_live_system_end_to_end(world, capsys):
    check_record_12_nodes_with_loss_and_disconnects_keeps_every_sample(world)
    check_scan_lists_the_simulated_nodes(world, capsys)
    check_recorder_killed_mid_trial_is_recovered(world)
    check_ctrl_c_stops_cleanly_and_keeps_everything(world)
