"""Whole processes: signals to `myostride demo` / `record`, SIGKILL at seeded moments, a full
disk under raw.log. What is checked: the exit, the session left behind, and that no process
of the simulated world outlives the command."""

import json
import random
import resource
import signal
import subprocess
import sys
import time

import pytest

from faultcheck import check_loadable_and_honest, events
from myostride.acquire import logscan
from myostride.session import rebuild_session
from myowire import codec
from simworld import child_pids, mapping_for, small_world

pytestmark = pytest.mark.slow


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_phase(raw_log, phase, proc, timeout_s=90.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        if raw_log.exists():
            try:
                if any(e["event"] == "phase" and e["phase"] == phase for e in logscan.scan_log(raw_log).events):
                    return True
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError("phase %s not reached (exit %s)" % (phase, proc.poll()))


def myostride(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "myostride", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_demo_stopped_by_sigterm_leaves_a_closed_session_and_no_process(tmp_path):
    sig = signal.SIGTERM  # SIGINT takes the same path (tests/faults/test_faults_signals.py, bench_faults signals)
    out = tmp_path / "demo"
    p = myostride("demo", "--out", out, "--nodes", 2, "--seconds", 30, "--no-live", "--seed", 2)
    try:
        wait_phase(out / "session" / "raw.log", "recording", p)
        time.sleep(1.0)
        kids = child_pids(p.pid)
        assert len(kids) >= 3  # the air and two nodes
        t0 = time.monotonic()
        p.send_signal(sig)
        _o, err = p.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        p.kill()
    assert p.returncode == 130, err
    man = json.loads((out / "session" / "session.json").read_text())
    assert man["status"] == "stopped"
    ev = events(out / "session")
    # session closed within 5 s of the signal (host clock = simulated global time at speed 1)
    stop = next(e for e in ev if e["event"] == "stop_sent")
    end = next(e for e in ev if e["event"] == "session_end")
    assert (end["t_us"] - stop["t_us"]) / 1e6 < 5.0
    # both nodes were sent STOP; under load an answer may come after the 1.5 s a user's stop waits
    assert {e["node_id"] for e in ev if e["event"] in ("stopped", "stop_unanswered")} == {1, 2}
    assert took < 5.0 + 3.0 + 2.0  # + stopping the world (3 s grace) + interpreter exit
    assert not [k for k in kids if alive(k)]


def test_demo_killed_leaves_no_process_and_a_recoverable_session(tmp_path):
    out = tmp_path / "demo"
    p = myostride("demo", "--out", out, "--nodes", 2, "--seconds", 30, "--no-live", "--seed", 3)
    try:
        wait_phase(out / "session" / "raw.log", "recording", p)
        time.sleep(1.0)
        kids = child_pids(p.pid)
        p.kill()
        p.wait(60)  # SIGKILL cannot be ignored, but a process inside an fsync on a busy disk exits late
    finally:
        p.kill()
    deadline = time.monotonic() + 5.0
    while [k for k in kids if alive(k)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [k for k in kids if alive(k)]  # the world dies with its parent (PR_SET_PDEATHSIG)
    man = rebuild_session(out / "session")
    assert man["status"] == "interrupted"
    check_loadable_and_honest(out / "session")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("procworld")
    with small_world(d, nodes=2, seconds=400.0, seed=41, radio={"loss_pct": 2.0}) as (sc, w):
        yield sc


def record_cmd(sc, out, seconds=30):
    args = ["record", "--backend", "sim", "--world", sc.world_path, "--out", out, "--no-live", "--seconds", seconds]
    for m in mapping_for(sc):
        args += ["--map", m]
    return args


def kill_and_check(sc, out, rng):
    """Start a recording, SIGKILL it at a random moment while recording, rebuild, check."""
    p = myostride(*record_cmd(sc, out))
    try:
        wait_phase(out / "raw.log", "recording", p)
        time.sleep(rng.uniform(0.0, 4.0))
        p.kill()
        p.wait(60)  # SIGKILL cannot be ignored, but a process inside an fsync on a busy disk exits late
    finally:
        p.kill()
    size = (out / "raw.log").stat().st_size
    man = rebuild_session(out)
    assert man["status"] == "interrupted"
    s = check_loadable_and_honest(out)
    contents = logscan.scan_log(out / "raw.log")
    for ch in s.channels:
        # every EMG sample in raw.log is in the session (a SIGKILL loses nothing os.write() took)
        ks = set()
        for _seq, f in contents.node(ch.node_id).frames_of_type(codec.T_EMG):
            d = codec.decode_frame(f)
            k0 = int(round(d["t0_us"] * ch.fs_hz / 1e6))
            ks.update(range(k0, k0 + d["count"]))
        assert len(ch.uv) == len(ks) and set(ch.node_k.tolist()) == ks
    return {"size": size, "tail_ignored": man["raw_log"].get("tail_ignored_bytes", 0),
            "samples": sum(n["samples"]["received"] for n in man["nodes"]),
            "missing": sum(n["samples"]["missing"] for n in man["nodes"])}


def test_sigkill_at_seeded_moments_then_rebuild(world, tmp_path):
    rng = random.Random(12)
    for i in range(3):
        r = kill_and_check(world, tmp_path / ("k%d" % i), rng)
        assert r["samples"] > 0
        assert r["tail_ignored"] < 300  # at most one record torn by the kill


def test_sigterm_while_scanning_closes_a_stopped_session(world, tmp_path):
    out = tmp_path / "scan"
    args = record_cmd(world, out)
    args += ["--map", "77=right:soleus"]  # a node that does not exist: the scan runs its 10 s
    p = myostride(*args)
    try:
        wait_phase(out / "raw.log", "scanning", p)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        _o, err = p.communicate(timeout=20)
        took = time.monotonic() - t0
    finally:
        p.kill()
    assert took < 5.0 and p.returncode == 0, err
    man = json.loads((out / "session.json").read_text())
    assert man["status"] == "stopped" and "before recording started (scanning)" in man["end_reason"]


def test_disk_full_under_raw_log_stops_with_one_line_and_keeps_what_was_written(world, tmp_path):
    out = tmp_path / "full"
    limit = 200_000  # bytes raw.log may reach: a few seconds of two nodes

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG, like ENOSPC

    p = myostride(*record_cmd(world, out, seconds=60), preexec_fn=small_disk)
    _o, err = p.communicate(timeout=90)
    assert p.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot write" in lines[0] and "raw.log" in lines[0], err
    assert (out / "raw.log").stat().st_size <= limit
    report = logscan.scan_log(out / "raw.log").report
    assert report.tail_ignored == 0 and not report.skipped  # nothing torn: the partial record was cut off
    man = json.loads((out / "session.json").read_text())
    assert man["status"] == "failed" and "cannot write" in man["end_reason"]
    s = check_loadable_and_honest(out)
    assert all(len(ch.uv) > 2000 for ch in s.channels)
