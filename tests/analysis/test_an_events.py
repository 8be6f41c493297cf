"""Gait events from a shank gyroscope and footswitches against simulated truth; plausibility checks."""

import numpy as np
import pytest

from myosim.imu import footswitch_edges, imu_codes
from myosim.patient import Patient
from myostride.analysis import events


def _nearest_errors(found, truth):
    truth = np.asarray(truth)
    return np.array([np.min(np.abs(truth - f)) for f in found])


@pytest.mark.parametrize("condition", ["normal", "crouch", "equinus"])
def test_gyro_events_match_truth(condition):
    p = Patient(condition, 0.0, 20.0, seed=4)
    g = p.sides["left"]
    fs = 148.0  # a Delsys-like IMU rate
    t = np.arange(0, 20.0, 1.0 / fs)
    codes = imu_codes(t, g, np.random.default_rng(0))
    gyro = codes[:, 3:6] * 0.1  # deg/s; the sagittal axis is found, not assumed
    ev = events.events_from_gyro(t, gyro)
    strikes = [s for s in g.foot_strike_s if 0.5 < s < 19.5]
    offs = [s for s in g.foot_off_s if 0.5 < s < 19.5]
    assert len(ev["foot_strike_s"]) >= len(strikes) - 1
    assert len(ev["foot_off_s"]) >= len(offs) - 1
    assert np.median(_nearest_errors(ev["foot_strike_s"], g.foot_strike_s)) < 0.03
    assert np.median(_nearest_errors(ev["foot_off_s"], g.foot_off_s)) < 0.03
    assert np.max(_nearest_errors(ev["foot_strike_s"], g.foot_strike_s)) < 0.08


def test_gyro_sign_flip_is_handled():
    p = Patient("normal", 0.0, 12.0, seed=5)
    g = p.sides["right"]
    t = np.arange(0, 12.0, 1 / 100.0)
    gz = -imu_codes(t, g, np.random.default_rng(1))[:, 5] * 0.1  # sensor mounted upside down
    ev = events.events_from_gyro(t, gz)
    assert np.median(_nearest_errors(ev["foot_strike_s"], g.foot_strike_s)) < 0.03


def test_footswitch_events_heel_and_toe_walker():
    for condition in ("normal", "equinus"):
        p = Patient(condition, 0.0, 12.0, seed=2)
        g = p.sides["left"]
        ev = events.events_from_footswitch(footswitch_edges(g, 0.0, 12.0))
        inside = [s for s in g.foot_strike_s if 0.0 <= s <= 12.0]
        assert ev["foot_strike_s"] == pytest.approx(inside, abs=1e-9)
        assert np.max(_nearest_errors(ev["foot_off_s"], g.foot_off_s)) < 1e-9


def test_stride_checks_and_swapped_warning():
    fs = [0.0, 1.0, 2.0, 3.0, 4.0]
    good = events.stride_checks(fs, [0.62, 1.61, 2.63, 3.6])
    assert all(p is None for *_, p in good)
    swapped = events.stride_checks([0.62, 1.61, 2.63, 3.6], fs)  # labels exchanged: stance ~38 %
    warnings = events.plausibility_warnings("left", swapped)
    assert any("swapped" in w for w in warnings)
    assert any("corrupt" in w for w in warnings)
    odd = events.stride_checks([0.0, 0.3, 1.3], [0.2, 0.9])
    assert "stride time" in odd[0][3]
    missing = events.stride_checks([0.0, 1.0], [])
    assert "foot offs" in missing[0][3]


def test_gait_summary_uses_plausible_strides_only():
    strides = events.stride_checks([0.0, 1.0, 2.0, 5.0], [0.6, 1.62, 2.6])
    g = events.gait_summary(strides)
    assert g["strides"] == 2
    assert g["stride_time_s"]["mean"] == pytest.approx(1.0)
    assert g["cadence_steps_per_min"] == pytest.approx(120.0)
    assert g["stance_pct"]["mean"] == pytest.approx(61.0)
