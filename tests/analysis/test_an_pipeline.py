"""The analysis pipeline on simulated walking (myosim): timing vs truth, exclusions, flags, schema."""

import json

import numpy as np
import pytest

from myostride.analysis import cycles, pipeline
from myostride.analysis.channels import EmgInput

LEG = [("left", "soleus"), ("left", "tibialis_anterior"), ("left", "vastus_lateralis")]


def _ch(result, muscle, side="left"):
    return next(c for c in result["channels"] if c["muscle"] == muscle and c["side"] == side)


def test_schema_keys_and_json_serialisable(make_synthetic):
    rec, _ = make_synthetic(muscles=LEG, seconds=10.0)
    r = pipeline.analyse(rec)
    text = json.dumps(r, allow_nan=False)
    assert json.loads(text)["schema"] == "myostride.analysis/1"
    assert set(r) >= {"schema", "source", "settings", "events", "gait", "channels", "unmapped_channels", "warnings"}
    ch = r["channels"][0]
    assert set(ch) >= {"label", "muscle", "side", "fs_hz", "quality", "cycles", "envelope", "activation_frequency",
                       "normal_windows_pct", "comparison", "strides_used", "strides_excluded"}
    assert set(ch["quality"]) >= {"usable", "reasons", "baseline_noise_uv", "powerline_ratio", "clipping_pct",
                                  "motion_artifact_ratio", "lost_samples", "lead_off"}
    assert len(ch["envelope"]["mean"]) == 101 and len(ch["activation_frequency"]) == 101
    assert max(ch["envelope"]["mean"]) == pytest.approx(1.0)  # peak normalisation
    cyc = ch["cycles"][0]
    assert set(cyc) >= {"start_s", "end_s", "excluded", "active_s", "active_pct"}


def test_intervals_match_truth_per_stride(make_synthetic):
    """Per-stride detected intervals overlap the truth: >= 85 % agreement of activity on the cycle."""
    rec, truth = make_synthetic(muscles=LEG, seconds=16.0, snr_db=20.0)
    r = pipeline.analyse(rec)
    for side, muscle in LEG:
        ch = _ch(r, muscle, side)
        agree, total = 0, 0
        for cyc in ch["cycles"]:
            if cyc["excluded"]:
                continue
            grid = np.linspace(cyc["start_s"], cyc["end_s"], 200)
            det = np.zeros(len(grid), bool)
            for a, b in cyc["active_s"]:
                det |= (grid >= a) & (grid <= b)
            tru = np.zeros(len(grid), bool)
            for a, b in truth[(side, muscle)]:
                tru |= (grid >= a) & (grid <= b)
            agree += int(np.sum(det == tru))
            total += len(grid)
        assert total > 0 and agree / total >= 0.85, (muscle, agree / total)


def test_gaps_lead_off_clipping_and_artefact_exclude_strides(make_synthetic):
    rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=16.0)
    ch = rec.emg[0]
    fs = ch.fs_hz
    strides = rec.events["left"]["foot_strike_s"]
    s = [(strides[i], strides[i + 1]) for i in range(len(strides) - 1)]
    # Stride 1: a 0.2 s radio gap (samples removed, never filled).
    g0 = s[1][0] + 0.3
    keep = ~((ch.t_s >= g0) & (ch.t_s < g0 + 0.2))
    t, uv = ch.t_s[keep], ch.uv[keep].copy()
    # Stride 3: lead-off span declared by the node.
    lead = [(s[3][0] + 0.2, s[3][0] + 0.4)]
    # Stride 7: a large low-frequency motion artefact in mid stride.
    i0, i1 = np.searchsorted(t, (s[7][0] + 0.3, s[7][1]))
    tt = t[i0:i1] - t[i0]
    uv[i0:i1] += 3000.0 * np.sin(2 * np.pi * 4.0 * tt) * np.exp(-tt / 0.08)
    # Stride 5: saturated at the ADC rails (the channel's extreme values, repeated).
    rail = 5000.0
    i0, i1 = np.searchsorted(t, (s[5][0] + 0.2, s[5][0] + 0.3))
    uv[i0:i1] = np.clip(uv[i0:i1] * 200, -rail, rail)
    rec.emg = [EmgInput(ch.label, fs, t, uv, side="left", muscle="soleus", gaps=[(g0, g0 + 0.2)], lead_off=lead)]
    r = pipeline.analyse(rec)
    out = r["channels"][0]
    reasons = {i: c["excluded"] for i, c in enumerate(out["cycles"]) if c["excluded"]}
    assert reasons.get(1) == "gap in data"
    assert reasons.get(3) == "electrode lead-off"
    assert reasons.get(5) == "clipping"
    assert reasons.get(7) == "motion artefact"
    assert out["strides_excluded"] == len(reasons)
    assert out["strides_used"] == len(out["cycles"]) - len(reasons)
    assert out["quality"]["lost_samples"] == pytest.approx(0.2 * fs, abs=2)
    assert out["quality"]["lead_off"] is True
    for i in reasons:
        assert out["cycles"][i]["active_s"] == []


def test_normal_walking_flags_normal_and_equinus_calf_premature(make_synthetic):
    rec, _ = make_synthetic("normal", muscles=[("left", "soleus")], seconds=16.0, snr_db=25.0)
    flags = [f["kind"] for f in pipeline.analyse(rec)["channels"][0]["comparison"]["flags"]]
    assert flags == ["normal"]
    rec, _ = make_synthetic("equinus", muscles=[("left", "gastrocnemius_medialis")], seconds=16.0, snr_db=25.0)
    flags = [f["kind"] for f in pipeline.analyse(rec)["channels"][0]["comparison"]["flags"]]
    assert "premature" in flags


def test_stiff_knee_rectus_femoris_prolonged(make_synthetic):
    rec, _ = make_synthetic("stiff-knee", muscles=[("left", "rectus_femoris")], seconds=16.0, snr_db=25.0)
    flags = [f["kind"] for f in pipeline.analyse(rec)["channels"][0]["comparison"]["flags"]]
    assert "prolonged" in flags


def test_unreliable_channel_is_not_interpreted(make_synthetic):
    rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=10.0)
    ch = rec.emg[0]
    ch.uv = ch.uv + 40.0 * np.random.default_rng(1).standard_normal(len(ch.uv))  # very noisy contact
    noisy = pipeline.analyse(rec)["channels"][0]
    assert noisy["quality"]["usable"] is False
    assert any("baseline noise" in r for r in noisy["quality"]["reasons"])
    assert noisy["comparison"]["interpreted"] is False and noisy["comparison"]["flags"] == []


def test_flat_channel_unreliable_and_json_safe(make_synthetic):
    rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=8.0)
    rec.emg[0].uv = np.zeros_like(rec.emg[0].uv)
    r = pipeline.analyse(rec)
    json.dumps(r, allow_nan=False)
    q = r["channels"][0]["quality"]
    assert q["usable"] is False and any("flat" in x for x in q["reasons"])


def test_any_rate_from_1000_to_4000_hz(make_synthetic):
    for fs in (1000.0, 4000.0):
        rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=8.0, fs_hz=fs)
        ch = pipeline.analyse(rec)["channels"][0]
        assert ch["fs_hz"] == fs and ch["strides_used"] >= 4
        freq = np.array(ch["activation_frequency"])
        assert freq[25:40].mean() >= 0.8 and freq[70:95].mean() <= 0.2


def test_activation_frequency_counts_strides():
    f = cycles.activation_frequency([[[0.0, 50.0]], [[25.0, 75.0]]])
    assert f[10] == 0.5 and f[30] == 1.0 and f[60] == 0.5 and f[90] == 0.0


def test_normalisation_modes(make_synthetic):
    rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=8.0)
    peak = pipeline.analyse(rec)["channels"][0]["envelope"]
    mean = pipeline.analyse(rec, pipeline.settings_with(normalisation="mean"))["channels"][0]["envelope"]
    assert np.mean(mean["mean"]) == pytest.approx(1.0, rel=1e-3)
    assert mean["reference_uv"] < peak["reference_uv"]
    mvc = pipeline.analyse(rec, pipeline.settings_with(normalisation="mvc", mvc_uv={rec.emg[0].label: 200.0}))
    env = mvc["channels"][0]["envelope"]
    assert env["normalisation"] == "mvc" and env["reference_uv"] == 200.0
    assert max(env["mean"]) == pytest.approx(peak["peak_uv"] / 200.0, rel=1e-3)


def test_non_finite_samples_become_gaps(make_synthetic):
    rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=10.0)
    ch = rec.emg[0]
    uv = ch.uv.copy()
    s0, s1 = rec.events["left"]["foot_strike_s"][2:4]
    i0 = int(np.searchsorted(ch.t_s, s0 + 0.2))
    uv[i0:i0 + 50] = np.nan
    rec.emg = [EmgInput(ch.label, ch.fs_hz, ch.t_s, uv, side="left", muscle="soleus")]
    out = pipeline.analyse(rec)["channels"][0]
    assert out["quality"]["lost_samples"] == 50
    assert out["cycles"][2]["excluded"] == "gap in data"
    assert sum(c["excluded"] is None for c in out["cycles"]) == out["strides_used"] >= 4


def test_events_from_shank_imu_when_none_stored(make_synthetic):
    from myosim.imu import imu_codes
    from myosim.patient import Patient
    from myostride.analysis.channels import GyroInput

    rec, _ = make_synthetic(muscles=[("left", "soleus")], seconds=14.0, seed=3)
    stored = rec.events
    rec.events = None
    gait = Patient("normal", 0.0, 14.0, 3).sides["left"]  # the patient synthesize_trial used
    t = np.arange(0, 14.0, 0.01)
    rec.gyro = {"left": GyroInput("shank imu", t, imu_codes(t, gait, np.random.default_rng(0))[:, 3:6] * 0.1)}
    r = pipeline.analyse(rec)
    assert r["events"]["source"] == "imu"
    found = r["events"]["left"]["foot_strike_s"]
    assert len(found) >= len(stored["left"]["foot_strike_s"]) - 1
    for f in found:
        assert min(abs(f - s) for s in gait.foot_strike_s) < 0.03
    ch = r["channels"][0]
    assert ch["strides_used"] >= 8 and [f["kind"] for f in ch["comparison"]["flags"]] == ["normal"]
