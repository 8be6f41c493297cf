"""Is the simulated walking EMG like real recordings? (../shared/data)

Compared, with identical code on both (sim_realism_stats.py): median and mean
frequency, fraction of power in 20-450 Hz, excess kurtosis, RMS, envelope
active/rest ratio (p95/p10), activation duty cycle per muscle; stance %, stride
time and its CV from the gait events. Santuz (treadmill, 1 kHz, 12 of our 12
muscles, right leg) is compared muscle by muscle; the ktk Delsys file (2 kHz,
unlabelled muscles) as a range. The numbers are printed (pytest -s) for the notes.
"""

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from myosim.emg import synthesize_trial
from myosim.patient import Patient
from myosim.physiology import normal_bursts

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_realism_stats import all_stats  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SANTUZ = DATA / "santuz_treadmill" / "ID0012_TW_01_raw_emg.csv"
SANTUZ_CYCLES = DATA / "santuz_treadmill" / "ID0012_TW_01_cycles.csv"
KTK_ZIP = DATA / "ktk_walk" / "walk.c3d.zip"
SANTUZ_MUSCLES = {
    "ME": "gluteus_medius", "MA": "gluteus_maximus", "RF": "rectus_femoris", "VM": "vastus_medialis",
    "VL": "vastus_lateralis", "ST": "semitendinosus", "BF": "biceps_femoris", "TA": "tibialis_anterior",
    "PL": "peroneus_longus", "GM": "gastrocnemius_medialis", "GL": "gastrocnemius_lateralis", "SO": "soleus",
}
# ktk stored events (README): seconds on the trial clock.
KTK_EVENTS = {"right": ([1.661, 2.740], [2.364]), "left": ([2.224, 3.330], [2.892])}

pytestmark = pytest.mark.skipif(not SANTUZ.exists(), reason="../shared/data not present")


@pytest.fixture(scope="module")
def santuz():
    d = np.genfromtxt(SANTUZ, delimiter=",", names=True)
    return {m: all_stats(d[k], 1000.0) for k, m in SANTUZ_MUSCLES.items()}


@pytest.fixture(scope="module")
def sim_1k():
    sig, events, _ = synthesize_trial("normal", 40.0, 11, fs_hz=1000, snr_db=30,
                                      muscles=[("right", m) for m in SANTUZ_MUSCLES.values()])
    return {m: all_stats(sig[("right", m)], 1000.0) for m in SANTUZ_MUSCLES.values()}, events


@pytest.fixture(scope="module")
def ktk(tmp_path_factory):
    ezc3d = pytest.importorskip("ezc3d")
    d = tmp_path_factory.mktemp("ktk")
    with zipfile.ZipFile(KTK_ZIP) as z:
        z.extractall(d)
    c = ezc3d.c3d(str(next(d.rglob("walk.c3d"))))
    labels = c["parameters"]["ANALOG"]["LABELS"]["value"]
    fs = float(c["parameters"]["ANALOG"]["RATE"]["value"][0])
    a = c["data"]["analogs"][0]
    out = []
    for i, lab in enumerate(labels):
        if "IM EMG" in lab and np.std(a[i]) > 0:
            out.append(all_stats(a[i] * 1e6, fs))  # stored in volts
    # Channels dominated by movement artefact (most power below 20 Hz) are not EMG.
    return [s for s in out if s["band_20_450"] >= 0.75], fs


def _show(title, rows):
    print("\n" + title)
    for r in rows:
        print("  " + r)


def test_santuz_muscle_by_muscle(santuz, sim_1k):
    sim, _ = sim_1k
    rows = []
    for m, r in santuz.items():
        s = sim[m]
        rows.append("%-24s mdf %3.0f/%3.0f Hz mnf %3.0f/%3.0f band %.2f/%.2f kurt %4.1f/%4.1f "
                    "rms %4.1f/%4.1f uV env %5.1f/%5.1f duty %.2f/%.2f" % (
                        m, r["median_hz"], s["median_hz"], r["mean_hz"], s["mean_hz"], r["band_20_450"],
                        s["band_20_450"], r["kurtosis"], s["kurtosis"], r["rms_uv"], s["rms_uv"],
                        r["env_p95_p10"], s["env_p95_p10"], r["duty"], s["duty"]))
    _show("real (Santuz) / simulated, per muscle:", rows)
    for m, r in santuz.items():
        s = sim[m]
        assert 0.7 * r["median_hz"] <= s["median_hz"] <= 1.3 * r["median_hz"], m
        assert 0.75 * r["mean_hz"] <= s["mean_hz"] <= 1.25 * r["mean_hz"], m
        assert min(0.85, r["band_20_450"] - 0.05) <= s["band_20_450"] <= 1.0, m
        assert r["kurtosis"] / 3.0 <= s["kurtosis"] <= r["kurtosis"] * 3.0, m
        assert r["rms_uv"] / 2.5 <= s["rms_uv"] <= r["rms_uv"] * 2.5, m
        assert r["env_p95_p10"] / 5.0 <= s["env_p95_p10"] <= r["env_p95_p10"] * 5.0, m
        assert abs(s["duty"] - r["duty"]) <= 0.15, m
    # Across muscles the simulated values track the real ones, not just a common range.
    real_mdf = [santuz[m]["median_hz"] for m in santuz]
    sim_mdf = [sim[m]["median_hz"] for m in santuz]
    assert np.corrcoef(real_mdf, sim_mdf)[0, 1] > 0.6


def test_ktk_ranges(ktk, santuz):
    stats, fs = ktk
    sig, _, _ = synthesize_trial("normal", 30.0, 12, fs_hz=int(fs), snr_db=30)
    sim = [all_stats(x, fs) for x in sig.values()]
    rows = []
    for key in ("median_hz", "mean_hz", "band_20_450", "kurtosis", "rms_uv", "env_p95_p10"):
        r = [s[key] for s in stats]
        v = [s[key] for s in sim]
        rows.append("%-12s real %.3g..%.3g (median %.3g)  sim %.3g..%.3g (median %.3g)" % (
            key, min(r), max(r), np.median(r), min(v), max(v), np.median(v)))
    _show("ktk walk.c3d (2 kHz, %d EMG-dominated channels) vs simulated, 24 channels:" % len(stats), rows)
    assert len(stats) >= 4
    real_mdf = [s["median_hz"] for s in stats] + [s["median_hz"] for s in santuz.values()]
    for s in sim:
        assert 0.8 * min(real_mdf) <= s["median_hz"] <= 1.2 * max(real_mdf)
        assert s["band_20_450"] >= min(r["band_20_450"] for r in stats + list(santuz.values())) - 0.05
    # ktk is only 2.2 s of walking: amplitude statistics against all real channels, as a wide range.
    real_k = np.median([s["kurtosis"] for s in stats] + [s["kurtosis"] for s in santuz.values()])
    assert real_k / 3 <= np.median([s["kurtosis"] for s in sim]) <= real_k * 3
    med_rms = np.median([s["rms_uv"] for s in sim])
    assert np.median([s["rms_uv"] for s in stats]) / 3 <= med_rms <= 3 * np.median([s["rms_uv"] for s in stats])


def _timing(fs_s, fo_s):
    fs_s, fo_s = np.asarray(fs_s), np.asarray(fo_s)
    stride = np.diff(fs_s)
    stance = []
    for a, b in zip(fs_s[:-1], fs_s[1:]):
        off = fo_s[(fo_s > a) & (fo_s < b)]
        if len(off):
            stance.append((off[0] - a) / (b - a) * 100.0)
    return stride, np.array(stance)


def test_gait_timing_vs_real(sim_1k):
    _, events = sim_1k
    cyc = np.genfromtxt(SANTUZ_CYCLES, delimiter=",", names=True)
    s_stride, s_stance = _timing(cyc["touchdown_s"], cyc["liftoff_s"])
    k_stride, k_stance = [], []
    for side, (fs_s, fo_s) in KTK_EVENTS.items():
        a, b = _timing(fs_s, fo_s)
        k_stride += list(a)
        k_stance += list(b)
    real_stride = np.concatenate([s_stride, k_stride])
    real_stance = np.concatenate([s_stance, k_stance])
    sim_stride, sim_stance = _timing(events["right"]["foot_strike_s"], events["right"]["foot_off_s"])
    cv = sim_stride.std(ddof=1) / sim_stride.mean() * 100
    print("\nstride time s: Santuz %.3f (CV %.1f %%), ktk %s, sim %.3f (CV %.1f %%)" % (
        s_stride.mean(), s_stride.std(ddof=1) / s_stride.mean() * 100, np.round(k_stride, 3), sim_stride.mean(), cv))
    print("stance %%: Santuz %.1f, ktk %s, sim %.1f +/- %.1f" % (
        s_stance.mean(), np.round(k_stance, 1), sim_stance.mean(), sim_stance.std()))
    assert abs(sim_stride.mean() - real_stride.mean()) / real_stride.mean() < 0.12
    assert abs(sim_stance.mean() - real_stance.mean()) < 5.0
    # Overground stride-time CV is ~2-3 % (the treadmill trial is steadier).
    assert 1.5 <= cv <= 4.0


def test_healthy_variability_and_phases():
    p = Patient("normal", 0.0, 300.0, 5)
    left, right = p.sides["left"], p.sides["right"]
    d = np.diff(left.foot_strike_s)
    stance = (left.foot_off_s - left.foot_strike_s[:-1]) / d * 100
    assert 58 <= stance.mean() <= 62
    # Right foot strikes half a stride after the left ones; double support ~10 % each.
    i = np.searchsorted(right.foot_strike_s, left.foot_strike_s[5:-5])
    phase = (right.foot_strike_s[i] - left.foot_strike_s[5:-5]) / d[5:-4] * 100
    assert abs(np.median(phase) - 50) < 2
    ds = []
    for k in range(5, len(left.foot_strike_s) - 5):
        hs = left.foot_strike_s[k]
        j = np.searchsorted(right.foot_off_s, hs)
        ds.append((right.foot_off_s[j] - hs) / d[k] * 100)
    assert 7 <= np.median(ds) <= 13
    # Tibialis anterior mid-stance burst in about 30 % of strides.
    strides = p.stride_intervals("left", "tibialis_anterior")
    mid = [any(a < s["start_s"] + 0.35 * (s["end_s"] - s["start_s"]) and b > s["start_s"] + 0.25 *
               (s["end_s"] - s["start_s"]) for a, b in s["active_s"]) for s in strides]
    assert 0.2 <= np.mean(mid) <= 0.4
    # Onsets jitter from stride to stride (healthy variability), but stay near the window.
    on = []
    for s in p.stride_intervals("left", "gastrocnemius_medialis"):
        T = s["end_s"] - s["start_s"]
        for a, b in s["active_s"]:
            if a > s["start_s"]:
                on.append((a - s["start_s"]) / T * 100)
    on = np.array([x for x in on if x < 35])  # the main burst's onsets (not the extra short bursts)
    measured_on = normal_bursts("gastrocnemius_medialis")[0][0]  # the simulator's own physiology
    assert abs(np.median(on) - measured_on) <= 4 and 1.5 <= on.std() <= 6
