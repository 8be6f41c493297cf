"""Pathological presets behave as named, in the truth and in the signals."""

import numpy as np
import pytest
import scipy.signal as ss

from myosim.emg import synthesize_trial
from myosim.imu import footswitch_edges
from myosim.patient import CONDITIONS, Patient, check_condition


def _active_fraction_at(patient, side, muscle, pct_lo, pct_hi):
    """Fraction of strides where the muscle is active anywhere in [pct_lo, pct_hi] % of the cycle."""
    hits = []
    for s in patient.stride_intervals(side, muscle):
        T = s["end_s"] - s["start_s"]
        a, b = s["start_s"] + T * pct_lo / 100, s["start_s"] + T * pct_hi / 100
        hits.append(any(on < b and off > a for on, off in s["active_s"]))
    return float(np.mean(hits))


def _duty_pct(patient, side, muscle):
    tot = []
    for s in patient.stride_intervals(side, muscle):
        tot.append(sum(off - on for on, off in s["active_s"]) / (s["end_s"] - s["start_s"]) * 100)
    return float(np.mean(tot))


@pytest.fixture(scope="module")
def patients():
    return {c: Patient(c, 0.0, 60.0, 21) for c in CONDITIONS}


def test_condition_names():
    assert check_condition("Stiff_Knee") == "stiff-knee"
    with pytest.raises(ValueError, match="unknown condition 'limp'; use one of: normal"):
        check_condition("limp")


def test_equinus_calf_premature_and_prolonged(patients):
    n, e = patients["normal"], patients["equinus"]
    for m in ("gastrocnemius_medialis", "soleus"):
        # premature: active in late swing (86-95 %) in equinus, rarely in normal walking
        assert _active_fraction_at(e, "left", m, 88, 95) > 0.8
        assert _active_fraction_at(n, "left", m, 88, 95) < 0.15
        # prolonged: much longer stance activity
        assert _duty_pct(e, "left", m) > _duty_pct(n, "left", m) + 15
    assert e.sides["left"].toe_walking and not n.sides["left"].toe_walking
    # no heel strike: no tibialis anterior loading-response burst
    assert _active_fraction_at(n, "left", "tibialis_anterior", 2, 8) > 0.9
    assert _active_fraction_at(e, "left", "tibialis_anterior", 2, 8) < 0.15
    # toe walking: the heel switch never closes, the forefoot switch does
    edges = footswitch_edges(e.sides["left"], 0.0, 60.0)
    assert {i for _, i, _ in edges} == {1}
    assert {i for _, i, _ in footswitch_edges(n.sides["left"], 0.0, 60.0)} == {0, 1}


def test_stiff_knee_rectus_through_swing(patients):
    n, s = patients["normal"], patients["stiff-knee"]
    assert _active_fraction_at(s, "right", "rectus_femoris", 75, 88) > 0.85
    assert _active_fraction_at(n, "right", "rectus_femoris", 75, 88) < 0.2


def test_crouch_prolonged_knee_extensors_and_hamstrings(patients):
    n, c = patients["normal"], patients["crouch"]
    for m in ("vastus_lateralis", "biceps_femoris", "semitendinosus"):
        assert _active_fraction_at(c, "left", m, 28, 30) > 0.6, m
        assert _active_fraction_at(n, "left", m, 28, 30) < 0.2, m


def test_hemiplegic_one_side(patients):
    h = patients["hemiplegic"]
    assert h.affected("left") and not h.affected("right")
    assert h.sides["left"].toe_walking and not h.sides["right"].toe_walking
    assert _active_fraction_at(h, "left", "gastrocnemius_medialis", 88, 95) > 0.8
    assert _active_fraction_at(h, "right", "gastrocnemius_medialis", 88, 95) < 0.15
    summary = h.gait_summary()["sides"]
    assert summary["left"]["stance_pct"]["mean"] < summary["right"]["stance_pct"]["mean"] - 8
    right = Patient("hemiplegic", 0.0, 30.0, 21, affected_side="right")
    assert right.sides["right"].toe_walking and not right.sides["left"].toe_walking


def _envelope(x, fs):
    y = ss.sosfiltfilt(ss.butter(4, 20, "highpass", fs=fs, output="sos"), x)
    return ss.sosfiltfilt(ss.butter(4, 6, "lowpass", fs=fs, output="sos"), np.abs(y))


def test_signals_follow_the_truth():
    """The EMG envelope is high inside the true intervals and low outside (both presets)."""
    for cond in ("normal", "equinus"):
        sig, events, truth = synthesize_trial(cond, 20.0, 4, fs_hz=1000, snr_db=30,
                                              muscles=[("left", "gastrocnemius_medialis")])
        key = ("left", "gastrocnemius_medialis")
        t = np.arange(len(sig[key])) / 1000.0
        e = _envelope(sig[key], 1000)
        inside = np.zeros(len(t), bool)
        for on, off in truth[key]:
            inside |= (t >= on + 0.05) & (t <= off - 0.05)
        outside = np.ones(len(t), bool)
        for on, off in truth[key]:
            outside &= (t < on - 0.1) | (t > off + 0.1)
        assert np.median(e[inside]) > 8 * np.median(e[outside]), cond
        assert len(events["left"]["foot_strike_s"]) >= 15


def test_snr_and_hum_options():
    quiet, _, _ = synthesize_trial("normal", 10.0, 1, fs_hz=1000, snr_db=40, hum_hz=None,
                                   muscles=["semitendinosus"], artifacts=False)
    noisy, _, _ = synthesize_trial("normal", 10.0, 1, fs_hz=1000, snr_db=10, hum_hz=60, hum_amp_uv=30,
                                   muscles=["semitendinosus"], artifacts=False)
    k = ("left", "semitendinosus")
    f, pq = ss.welch(quiet[k], fs=1000, nperseg=1000)
    _, pn = ss.welch(noisy[k], fs=1000, nperseg=1000)
    i60 = np.argmin(abs(f - 60))
    assert pn[i60] > 50 * pq[i60]  # a 60 Hz line
    assert np.percentile(np.abs(noisy[k]), 20) > 3 * np.percentile(np.abs(quiet[k]), 20)  # noisier baseline
    with pytest.raises(ValueError, match="hum_hz"):
        synthesize_trial("normal", 1.0, 1, hum_hz=55)
