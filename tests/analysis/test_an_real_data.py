"""The analysis on the two real recordings in ../shared/data, checked against their README.

Santuz (treadmill, right leg, 13 muscles, 1000 Hz CSV): timing against the physiology the README
describes (soleus mid-late stance, TA around foot strike and in swing, quadriceps at loading,
hamstrings in late swing). KTK (Delsys C3D, 2000 Hz): first-frame offset, stored events, flat and
unmapped channels, the analog clock against the force plates, and IMU events against stored ones.
"""

import json

import ezc3d
import numpy as np
import pytest

from myostride.analysis import load_input, pipeline
from myostride.cli import main


def _freq(result, muscle):
    ch = next(c for c in result["channels"] if c["muscle"] == muscle)
    return np.array(ch["activation_frequency"]), ch


def _share(freq, a, b):
    return float(np.mean(freq[a:b + 1]))


@pytest.fixture(scope="module")
def santuz(santuz_csv):
    rec = load_input(santuz_csv, side="right")
    return pipeline.analyse(rec)


def test_santuz_events_and_gait(santuz):
    assert santuz["events"]["source"] == "stored"
    g = santuz["gait"]["right"]
    assert g["strides"] == 5
    assert 62.0 <= g["stance_pct"]["mean"] <= 66.0  # README: stance about 64 %
    assert abs(g["stride_time_s"]["mean"] - 1.036) < 0.01
    assert santuz["gait"]["left"]["strides"] == 0


def test_santuz_all_channels_mapped_by_label_and_usable(santuz):
    muscles = {c["label"]: c["muscle"] for c in santuz["channels"]}
    assert muscles["TA"] == "tibialis_anterior" and muscles["SO"] == "soleus" and muscles["ME"] == "gluteus_medius"
    assert len(muscles) == 13 and santuz["unmapped_channels"] == []
    for ch in santuz["channels"]:
        assert ch["quality"]["usable"], (ch["label"], ch["quality"]["reasons"])
        assert ch["strides_used"] == 5


def test_santuz_calf_active_in_mid_late_stance_quiet_in_swing(santuz):
    so, _ = _freq(santuz, "soleus")
    gm, _ = _freq(santuz, "gastrocnemius_medialis")
    assert _share(so, 30, 45) >= 0.8 and _share(gm, 30, 45) >= 0.8
    assert _share(so, 65, 95) <= 0.2
    assert _share(gm, 60, 70) <= 0.2


def test_santuz_tibialis_anterior_at_foot_strike_and_swing(santuz):
    ta, ch = _freq(santuz, "tibialis_anterior")
    assert _share(ta, 0, 5) >= 0.8 and _share(ta, 75, 95) >= 0.8
    assert _share(ta, 30, 45) <= 0.2
    assert [f["kind"] for f in ch["comparison"]["flags"]] == ["normal"]


def test_santuz_quadriceps_loading_and_hamstrings_late_swing(santuz):
    vl, _ = _freq(santuz, "vastus_lateralis")
    rf, _ = _freq(santuz, "rectus_femoris")
    bf, _ = _freq(santuz, "biceps_femoris")
    assert _share(vl, 0, 10) >= 0.8 and _share(rf, 0, 10) >= 0.8
    assert _share(vl, 40, 80) <= 0.2
    assert _share(bf, 88, 97) >= 0.8 and _share(bf, 40, 60) <= 0.2


def test_santuz_intervals_in_seconds_match_percent(santuz):
    _, ch = _freq(santuz, "soleus")
    for cyc in ch["cycles"]:
        dur = cyc["end_s"] - cyc["start_s"]
        for (a_s, b_s), (a_p, b_p) in zip(cyc["active_s"], cyc["active_pct"]):
            assert abs(100 * (a_s - cyc["start_s"]) / dur - a_p) < 0.05
            assert abs(100 * (b_s - cyc["start_s"]) / dur - b_p) < 0.05


KTK_MAP = ["Sensor 7.IM EMG7=right:soleus", "Sensor 5.IM EMG5=left:tibialis_anterior"]


def test_ktk_c3d_clock_events_and_mapping(ktk_c3d, tmp_path):
    out = tmp_path / "ktk.json"
    argv = ["analyze", ktk_c3d, "--json", str(out)]
    for m in KTK_MAP:
        argv += ["--map", m]
    assert main(argv) == 0
    r = json.loads(out.read_text())
    assert r["schema"] == "myostride.analysis/1"
    assert r["source"]["kind"] == "c3d" and abs(r["source"]["time_origin_s"] - 1.52) < 1e-9
    ev = r["events"]
    assert ev["source"] == "stored"
    assert ev["right"]["foot_strike_s"] == pytest.approx([1.661, 2.740], abs=1e-3)
    assert ev["right"]["foot_off_s"] == pytest.approx([2.364, 3.500], abs=1e-3)
    assert ev["left"]["foot_strike_s"] == pytest.approx([2.224, 3.330], abs=1e-3)
    assert ev["left"]["foot_off_s"] == pytest.approx([1.810, 2.892], abs=1e-3)
    assert r["gait"]["right"]["strides"] == 1 and r["gait"]["left"]["strides"] == 1
    # Six active EMG sensors left unmapped are reported, not guessed; flat ones are named in a warning.
    assert sorted(r["unmapped_channels"]) == sorted("Sensor %d.IM EMG%d" % (i, i) for i in (1, 2, 3, 4, 6, 8))
    assert any("flat" in w and "Sensor 1.EMG1" in w for w in r["warnings"])
    by_label = {c["label"]: c for c in r["channels"]}
    cyc = by_label["Sensor 7.IM EMG7"]["cycles"]
    assert len(cyc) == 1 and cyc[0]["start_s"] == pytest.approx(1.6605, abs=1e-3)
    for on, off in cyc[0]["active_s"]:
        assert 1.52 <= on < off <= 3.73
    # Amplitudes converted from the file's volts: tens of microvolts, not 1e-5.
    assert 1.0 < by_label["Sensor 7.IM EMG7"]["quality"]["baseline_noise_uv"] < 30.0


def test_ktk_analog_clock_matches_force_plates(ktk_c3d):
    """The first-frame offset is right if force-plate contacts (analog, our clock) meet the stored
    foot strikes (EVENT:TIMES clock), as the README says they agree."""
    rec = load_input(ktk_c3d, maps=KTK_MAP)
    t_s = rec.emg[0].t_s
    c3d = ezc3d.c3d(ktk_c3d)
    labels = list(c3d["parameters"]["ANALOG"]["LABELS"]["value"])
    strikes = rec.events["left"]["foot_strike_s"] + rec.events["right"]["foot_strike_s"]
    contacts = []
    for plate in (1, 2, 3, 4):
        fz = np.abs(c3d["data"]["analogs"][0][labels.index("Force.Fz%d" % plate)])
        loaded = np.flatnonzero(fz > 30.0)
        if len(loaded) and loaded[0] > 0:
            contacts.append(float(t_s[loaded[0]]))
    assert len(contacts) >= 2
    for c in contacts:
        assert min(abs(c - s) for s in strikes) < 0.02, (c, strikes)


def test_ktk_imu_events_near_stored(ktk_c3d):
    """Events from the Delsys gyroscope of sensor 5 (left shank pattern) against the stored ones.

    Only one to two strides and no documented sensor placement: a loose 100 ms bound; the
    detector's precision is tested on simulated gyroscopes with known truth.
    """
    rec = load_input(ktk_c3d, maps=KTK_MAP, gyro={"left": "Sensor 5 Gyro"})
    rec.events = None
    r = pipeline.analyse(rec, pipeline.settings_with(events_from="imu"))
    assert r["events"]["source"] == "imu"
    stored = [2.224, 3.330]
    got = r["events"]["left"]["foot_strike_s"]
    assert len(got) >= 1
    for g in got:
        assert min(abs(g - s) for s in stored) < 0.1
