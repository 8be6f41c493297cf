"""`myostride check` against simulated nodes: one electrode off, one noisy electrode -> exactly those two flagged."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from bringup_fixtures import cli

from myostride.bringup import check
from myowire import codec


def inject(node_json, lead_off=False, extra_noise_uv=0.0, seed=0):
    """Rewrite a node's files (nodefiles format): electrode off for the whole run, or extra noise."""
    d = Path(node_json).parent
    meta = json.loads(Path(node_json).read_text())
    codes = np.fromfile(d / "emg.i16", dtype="<i2").astype(np.int64)
    if lead_off:
        codes[:] = 32767  # an electrode off pulls the input to the positive rail
        meta["lead_off"] = [[0, int(len(codes))]]
    if extra_noise_uv:
        rng = np.random.default_rng(seed)
        codes = codes + np.rint(rng.standard_normal(len(codes)) * extra_noise_uv * 1000.0 / meta["nv_per_lsb"]).astype(np.int64)
    np.clip(codes, -32768, 32767).astype("<i2").tofile(d / "emg.i16")
    Path(node_json).write_text(json.dumps(meta, indent=1))


@pytest.fixture
def world(tmp_path, monkeypatch):
    from myosim import nodefiles
    from myosim.scenario import build_scenario
    from myosim.world import World

    sc = build_scenario(tmp_path / "sim", nodes=4, seconds=90, seed=3, snr_db=30.0)
    inject(sc.node_jsons[1], lead_off=True)  # node 2
    inject(sc.node_jsons[2], extra_noise_uv=60.0, seed=1)  # node 3
    socks = Path(tempfile.mkdtemp(prefix="h8chk-"))
    nodefiles.write_world(sc.world_path, socks / "air.sock", socks / "host.sock", 90, speed=1.0)
    monkeypatch.setenv("MYOSTRIDE_SIM_WORLD", str(sc.world_path))
    with World(sc.node_jsons, sc.world_path, {"seed": 3}) as w:
        yield w, sc


MAP = ["1=left:tibialis_anterior", "2=left:gastrocnemius_medialis", "3=left:rectus_femoris", "4=left:vastus_lateralis"]


@pytest.mark.slow
def test_check_flags_exactly_the_lead_off_and_the_noisy_electrode(world, tmp_path):
    out = tmp_path / "check"
    argv = ["check", "--backend", "sim", "--seconds", 5, "--out", out]
    for m in MAP:
        argv += ["--map", m]
    rc, stdout, err = cli(*argv)
    assert rc == 1, stdout + err  # something to fix
    res = json.loads((out / "check.json").read_text())
    assert res["schema"] == check.SCHEMA and not res["passed"]
    failed = {n["node_id"]: n for n in res["nodes"] if not n["passed"]}
    assert set(failed) == {2, 3}, json.dumps(res["nodes"], indent=1)
    assert [p["what"] for p in failed[2]["problems"]] == ["node 2 (left gastrocnemius medialis): electrode lead-off"]
    assert len(failed[3]["problems"]) == 1 and "noise" in failed[3]["problems"][0]["what"]
    assert "re-prep skin / replace electrode on node 3" in failed[3]["problems"][0]["fix"]
    assert failed[3]["quality"]["baseline_noise_uv"] > check.LIMITS["baseline_noise_uv"]
    for n in res["nodes"]:
        assert n["selftest"]["afe"] and n["selftest"]["clock"] and n["firmware"] == [0, 1, 0]
        c = n["clock_probe"]
        assert c["min_s"] <= c["node_dt_s"] <= c["max_s"]
        if n["passed"]:
            assert n["quality"]["baseline_noise_uv"] < check.LIMITS["baseline_noise_uv"]
            assert n["quality"]["samples"] >= 0.9 * 5 * 2000
    # the table says what to fix, in the words a therapist acts on
    assert "FIX node 3" in stdout and "noise" in stdout and "FIX node 2" in stdout and "lead-off" in stdout
    assert (out / "check-session" / "session.json").exists()


def test_judge_self_test_names_the_fix():
    base = {"selftest": codec.S_AFE | codec.S_CLOCK | codec.S_IMU | codec.S_STORAGE, "imu_hz": 104, "flags": 0,
            "battery_pct": 80, "battery_mv": 4000}
    ok = {"node_id": 4, "status": base, "clock": {"host_dt_s": 0.5, "node_dt_s": 0.5301, "min_s": 0.46, "max_s": 0.56}}
    assert check.judge_self_test(ok) == []
    bad = {"node_id": 4, "status": dict(base, selftest=codec.S_CLOCK, battery_pct=10, flags=codec.F_CONFIG_DEFAULTS),
           "clock": {"host_dt_s": 0.5, "node_dt_s": 0.0, "min_s": 0.46, "max_s": 0.56}}
    what = [p.what for p in check.judge_self_test(bad)]
    assert any("front end not responding" in w for w in what)
    assert any("IMU not responding" in w for w in what)
    assert any("clock not running" in w for w in what)
    assert any("battery 10 %" in w for w in what)
    assert any("default settings" in w for w in what)
    assert "not advertising" in check.judge_self_test({"node_id": 9, "error": "not advertising"})[0].what


def test_check_refuses_bad_options(tmp_path):
    rc, out, err = cli("check", "--backend", "sim", "--seconds", 30, "--map", "1=left:tibialis_anterior", "--out", tmp_path)
    assert rc == 2 and "5-10" in err and "Traceback" not in err
    rc, out, err = cli("check", "--backend", "sim", "--map", "1=left:bicep", "--out", tmp_path)
    assert rc == 2 and "unknown muscle" in err
