"""Scenario files: determinism, node clocks, IMU events and faults as the truth says."""

import json

import numpy as np
import pytest
import scipy.signal as ss

from myosim.clocks import make_clock, sample_times_s
from myosim.nodefiles import FOOT_DTYPE
from myosim.scenario import DEFAULT_LAYOUT, build_scenario, write_truth


def _files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _strip_paths(node_json_bytes):
    meta = json.loads(node_json_bytes)
    meta.pop("fw_dir")
    meta.pop("world")
    return meta


def test_default_layout():
    assert [n for n, _, _ in DEFAULT_LAYOUT] == list(range(1, 13))
    assert {s for n, s, _ in DEFAULT_LAYOUT if n <= 6} == {"left"}
    assert {s for n, s, _ in DEFAULT_LAYOUT if n >= 7} == {"right"}
    assert [m for _, _, m in DEFAULT_LAYOUT[:6]] == [m for _, _, m in DEFAULT_LAYOUT[6:]]


def test_same_seed_same_bytes(tmp_path):
    kw = dict(nodes=3, condition="equinus", seconds=6.0, seed=7, footswitch=True, lead_off=1, saturation=1)
    a = build_scenario(tmp_path / "a", **kw)
    b = build_scenario(tmp_path / "b", **kw)
    write_truth(a, [{"kind": "notify_lost", "node": 2, "g_s": 1.5}], {"loss_pct": 2.0})
    write_truth(b, [{"kind": "notify_lost", "node": 2, "g_s": 1.5}], {"loss_pct": 2.0})
    fa, fb = _files(a.out_dir), _files(b.out_dir)
    assert fa.keys() == fb.keys()
    for name in fa:
        if name.endswith("node.json"):
            assert _strip_paths(fa[name]) == _strip_paths(fb[name])
        else:
            assert fa[name] == fb[name], name
    assert "node01/emg.i16" in fa and "node01/foot.bin" in fa and "node03/imu.i16" in fa
    c = build_scenario(tmp_path / "c", **dict(kw, seed=8))
    assert (c.out_dir / "node01" / "emg.i16").read_bytes() != fa["node01/emg.i16"]


def test_adding_nodes_keeps_the_others(tmp_path):
    a = build_scenario(tmp_path / "a", nodes=1, seconds=3.0, seed=2)
    b = build_scenario(tmp_path / "b", nodes=4, seconds=3.0, seed=2)
    assert (a.out_dir / "node01/emg.i16").read_bytes() == (b.out_dir / "node01/emg.i16").read_bytes()
    assert a.truth["channels"][0] == b.truth["channels"][0]


def test_clock_knots_drift_bound_and_inverse():
    for seed in range(5):
        c = make_clock(np.random.default_rng(seed), 120.0, drift_ppm=100.0)
        k = np.array(c.knots, dtype=float)
        assert np.all(np.diff(k[:, 0]) > 0) and np.all(np.diff(k[:, 1]) > 0)
        rate_ppm = (np.diff(k[:, 1]) / np.diff(k[:, 0]) / 1e6 - 1) * 1e6
        assert np.all(np.abs(rate_ppm) <= 100.0 + 1.5)  # +1.5: integer-us rounding of the knots
        assert np.ptp(rate_ppm) > 0.05  # the drift wanders
        g = np.linspace(-1.0, 119.0, 1000)
        assert np.allclose(c.global_s(c.node_us(g)), g, atol=1e-9)
        assert c.node_us(0.0) == c.offset_us
    ideal = make_clock(np.random.default_rng(1), 10.0, drift_ppm=0.0)
    k = np.array(ideal.knots, dtype=float)
    assert np.all(np.diff(k[:, 1]) == 1e6)


def test_drift_is_physical_in_node_files(tmp_path):
    """Events found in a node's own samples land on the truth's global times via its clock."""
    sc = build_scenario(tmp_path, nodes=1, seconds=40.0, seed=3, drift_ppm=100.0, footswitch=True)
    node = sc.truth["nodes"][0]
    knots = np.array(node["clock"]["knots"], dtype=float)
    meta = json.loads((tmp_path / "node01" / "node.json").read_text())
    assert meta["clock_knots"] == node["clock"]["knots"]

    def to_global(node_us):
        return np.interp(node_us, knots[:, 1], knots[:, 0])

    truth_fs = np.array(sc.truth["gait"]["events"]["left"]["foot_strike_s"])
    k = np.arange(0, node["emg_samples"], 997)
    k = k[k * 1e6 / meta["emg_hz"] >= knots[0, 1]]  # np.interp does not extrapolate before the first knot
    assert np.allclose(sample_times_s(node["clock"], k, meta["emg_hz"]), to_global(k * 1e6 / meta["emg_hz"]), atol=1e-9)
    assert abs(sample_times_s(node["clock"], 0, meta["emg_hz"]) - node["first_sample_s"]) < 1e-6
    # footswitch edges (EMG sample index on the node clock) -> global time
    foot = np.fromfile(tmp_path / "node01" / "foot.bin", dtype=FOOT_DTYPE)
    heel_on = foot[(foot["input"] == 0) & (foot["level"] == 1)]["k"] * 1e6 / meta["emg_hz"]
    g = to_global(heel_on)
    g = g[(g > 0.5) & (g < 39.5)]
    err = np.array([np.min(np.abs(truth_fs - x)) for x in g])
    assert len(g) >= 30 and err.max() < 0.6e-3  # within one EMG sample
    # IMU: foot strike = the gyro minimum after each mid-swing peak
    imu = np.fromfile(tmp_path / "node01" / "imu.i16", dtype="<i2").reshape(-1, 6)
    gz = imu[:, 5] / 10.0
    peaks, _ = ss.find_peaks(gz, height=150, distance=50)
    t_imu = to_global(np.arange(len(gz)) * 1e6 / meta["imu_hz"])
    errs = []
    for p in peaks:
        if 0.5 < t_imu[p] < 39.0:
            m = p + np.argmin(gz[p:p + 30])
            errs.append(np.min(np.abs(truth_fs - t_imu[m])))
    assert len(errs) >= 30 and np.median(errs) < 0.012


def test_faults_in_files_and_truth(tmp_path):
    sc = build_scenario(tmp_path, nodes=2, seconds=20.0, seed=5, lead_off=2, saturation=2, nv_per_lsb=500)
    p = write_truth(sc, [{"kind": "disconnect", "node": 1, "g_s": 3.0, "at_s": 3.0, "down_until_s": 4.0}],
                    {"loss_pct": 1.0})
    truth = json.loads(p.read_text())
    kinds = [f["kind"] for f in truth["faults"]]
    assert kinds.count("lead_off") == 2 and kinds.count("saturation") == 2 and "disconnect" in kinds
    times = [f.get("start_s", f.get("g_s")) for f in truth["faults"]]
    assert times == sorted(times)
    assert truth["radio"] == {"loss_pct": 1.0}
    for f in truth["faults"]:
        if f["source"] != "signal":
            continue
        codes = np.fromfile(tmp_path / ("node%02d" % f["node_id"]) / "emg.i16", dtype="<i2")
        meta = json.loads((tmp_path / ("node%02d" % f["node_id"]) / "node.json").read_text())
        if f["kind"] == "lead_off":
            assert [f["k_start"], f["k_end"]] in meta["lead_off"]
            assert np.all(codes[f["k_start"]:f["k_end"]] == 32767)
        else:
            assert f["clipped_samples"] > 10
    # without faults nothing sits at a rail
    clean = build_scenario(tmp_path / "clean", nodes=2, seconds=20.0, seed=5)
    for i in (1, 2):
        codes = np.fromfile(clean.out_dir / ("node%02d" % i) / "emg.i16", dtype="<i2")
        assert np.count_nonzero(np.abs(codes.astype(int)) >= 32767) == 0


def test_truth_contents(tmp_path):
    sc = build_scenario(tmp_path, nodes=12, seconds=8.0, seed=1, condition="hemiplegic")
    t = sc.truth
    assert t["schema"] == "myosim.truth/1" and t["version"] == 1 and t["affected_side"] == "left"
    assert [n["node_id"] for n in t["nodes"]] == list(range(1, 13))
    for n, ch in zip(t["nodes"], t["channels"]):
        assert ch["node_id"] == n["node_id"]
        emg = np.fromfile(tmp_path / n["label"] / "emg.i16", dtype="<i2")
        assert len(emg) == n["emg_samples"]
        assert n["first_sample_s"] < 0  # nodes booted before the session started
        for s in ch["strides"]:
            assert 0 <= s["start_s"] < s["end_s"] <= 8.0
            for on, off in s["active_s"]:
                assert s["start_s"] <= on < off <= s["end_s"]
    json.dumps(t)  # serialisable


@pytest.mark.parametrize("bad", [dict(nodes=13), dict(nodes=0), dict(condition="limp"), dict(seconds=-1.0),
                                 dict(hum_hz=55), dict(drift_ppm=-5.0)])
def test_bad_options(tmp_path, bad):
    with pytest.raises(ValueError):
        build_scenario(tmp_path, **dict(dict(nodes=1, seconds=1.0), **bad))


def test_imu_and_hum_in_node_files(tmp_path):
    sc = build_scenario(tmp_path, nodes=3, seconds=20.0, seed=8, hum_hz=60, hum_amp_uv=40.0, emg_hz=1000)
    meta = json.loads((tmp_path / "node01" / "node.json").read_text())
    assert meta["emg_hz"] == 1000
    codes = np.fromfile(tmp_path / "node01" / "emg.i16", dtype="<i2").astype(float) * meta["nv_per_lsb"] / 1000.0
    f, p = ss.welch(codes, fs=1000, nperseg=1000)
    near = (f > 40) & (f < 80) & (np.abs(f - 60) > 3)
    assert p[np.argmin(np.abs(f - 60))] > 8 * np.median(p[near])  # the chosen 60 Hz hum
    imu = np.fromfile(tmp_path / "node01" / "imu.i16", dtype="<i2").reshape(-1, 6).astype(float)
    acc_mg = imu[:, :3]
    assert 850 < np.median(np.linalg.norm(acc_mg, axis=1)) < 1150  # gravity
    gz_dps = imu[:, 5] / 10.0
    assert 250 < np.percentile(gz_dps, 99.5) < 420  # shank mid-swing peaks (deg/s)
    # heel-strike impacts: large along-shank acceleration right after each foot strike
    knots = np.array(sc.truth["nodes"][0]["clock"]["knots"], dtype=float)
    t_imu = np.interp(np.arange(len(imu)) * 1e4, knots[:, 1], knots[:, 0])  # 100 Hz
    bumps = []
    for fs in sc.truth["gait"]["events"]["left"]["foot_strike_s"][1:-1]:
        w = (t_imu >= fs) & (t_imu < fs + 0.05)
        bumps.append(acc_mg[w, 1].max() - np.median(acc_mg[:, 1]))
    assert np.mean(np.array(bumps) > 250) >= 0.8, bumps
    # thigh node (rectus femoris, node 3): smaller swing peak than the shank
    thigh = np.fromfile(tmp_path / "node03" / "imu.i16", dtype="<i2").reshape(-1, 6)[:, 5] / 10.0
    assert np.percentile(thigh, 99.5) < 0.8 * np.percentile(gz_dps, 99.5)
