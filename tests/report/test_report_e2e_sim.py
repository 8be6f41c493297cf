"""The clinical back end on a session recorded from real firmware nodes on the simulated air:
record -> `myostride report SESSION` -> `myostride export SESSION --format c3d`."""

import asyncio
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from myosim import nodefiles
from myosim.scenario import DEFAULT_LAYOUT, build_scenario
from myosim.world import World
from myostride.acquire.recorder import record_session
from myostride.analysis.inputs_c3d import load_c3d
from myostride.cli import main
from myostride.study.clinical import EXAMPLE_CLINICAL_PATH

pytestmark = pytest.mark.slow
WORLD_S = 30.0
NODES = 2  # left tibialis anterior (shank IMU) and left gastrocnemius medialis


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    d = tmp_path_factory.mktemp("repsim")
    sc = build_scenario(d / "sim", nodes=NODES, seconds=WORLD_S, seed=5)
    sock = Path("/tmp") / ("rep-%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000))
    sock.mkdir()
    nodefiles.write_world(sc.world_path, sock / "air.sock", sock / "host.sock", WORLD_S, speed=1.0)
    w = World(sc.node_jsons, sc.world_path, {"seed": 5}, heapsize="1m")
    w.start()
    try:
        deadline = time.monotonic() + 30.0
        while nodefiles.global_time_s(nodefiles.read_world(sc.world_path)) < 2.0:
            assert time.monotonic() < deadline, "the simulated world did not start within 30 s"
            time.sleep(0.2)
        mapping = ["%d=%s:%s" % x for x in DEFAULT_LAYOUT[:NODES]]
        man = asyncio.run(asyncio.wait_for(
            record_session(d / "session", mapping, 14.0, backend="sim", world=sc.world_path), timeout=90.0))
    finally:
        w.stop()
        for f in sock.iterdir():
            f.unlink()
        sock.rmdir()
    assert man["status"] == "complete", man.get("end_reason")
    return d, sc, man


def test_report_and_export_of_a_recorded_session(recorded, capsys):
    d, sc, man = recorded
    out = d / "report"
    assert main(["report", str(d / "session"), "--clinical", str(EXAMPLE_CLINICAL_PATH), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    analysis = json.loads((out / "analysis.json").read_text())
    assert summary["muscles_tested"] == NODES
    eq = summary["equipment"]
    assert eq["firmware_versions"] == [".".join(str(x) for x in man["nodes"][0]["firmware"])]
    assert eq["sampling_rate_hz"] == [2000.0]
    assert eq["filters"]["node"] and "high-pass 20 Hz" in eq["filters"]["node"][0]
    assert len(eq["calibration"]["nodes"]) == NODES  # from the nodes' status frames
    assert summary["activities"]["strides_analysed"]["left"] >= 8
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"

    c3d_path = d / "session.c3d"
    assert main(["export", str(d / "session"), "--format", "c3d", "--analysis", str(out / "analysis.json")]) == 0
    rec = load_c3d(str(c3d_path))
    assert sorted(e.label for e in rec.emg) == ["L_GASMED", "L_TIBANT"]
    # File time + MYOSTRIDE:SESSION_TIME_OFFSET_S = session time (the offset is non-zero when a node's
    # first sample precedes the session start).
    import ezc3d

    offset_s = float(ezc3d.c3d(str(c3d_path))["parameters"]["MYOSTRIDE"]["SESSION_TIME_OFFSET_S"]["value"][0])
    assert offset_s <= 0.0
    got = [t + offset_s for t in rec.events["left"]["foot_strike_s"]]
    assert got == pytest.approx(analysis["events"]["left"]["foot_strike_s"], abs=1e-4)
    # The events on the file's clock match the simulated patient's true foot strikes (session clock =
    # global time minus the session start): the whole chain keeps time.
    start_s = man["start_host_us"] / 1e6
    truth = np.array(sc.truth["gait"]["events"]["left"]["foot_strike_s"]) - start_s
    err = [np.min(np.abs(truth - t)) for t in got]
    assert np.median(err) < 0.05, err
