"""Label recognition, --map parsing, unit scaling; band-pass and powerline removal that spares EMG."""

import numpy as np
import pytest
from scipy import signal

from myostride.analysis import emgproc, onset
from myostride.analysis.channels import EmgInput, Recording, assign_muscles, parse_map, recognise_label
from myostride.analysis.units import unit_factor
from myostride.errors import UserError


@pytest.mark.parametrize("label,expected", [
    ("TA", (None, "tibialis_anterior")),
    ("L_TibAnt", ("left", "tibialis_anterior")),
    ("Right Soleus", ("right", "soleus")),
    ("SOL_R", ("right", "soleus")),
    ("LGASMED", ("left", "gastrocnemius_medialis")),
    ("RF", (None, "rectus_femoris")),        # not "right F"
    ("R RF", ("right", "rectus_femoris")),
    ("Sensor 1.IM EMG1", None),
    ("TAP", None),
    ("Force.Fz1", None),
])
def test_recognise_label(label, expected):
    assert recognise_label(label) == expected


def test_parse_map_and_errors():
    assert parse_map(["Sensor 1.IM EMG1=R:Soleus"]) == {"Sensor 1.IM EMG1": ("right", "soleus")}
    assert parse_map(["a=b=left:soleus"]) == {"a=b": ("left", "soleus")}
    for bad in ("EMG1", "EMG1=left", "EMG1=middle:soleus", "EMG1=left:bicep"):
        with pytest.raises(UserError):
            parse_map([bad])


def test_assign_reports_unmapped_and_prefers_map():
    rec = Recording("csv", "x")
    t = np.arange(10) / 1000.0
    rec.emg = [EmgInput(lab, 1000, t, np.zeros(10)) for lab in ("TA", "EMG7", "SO")]
    assign_muscles(rec, {"SO": ("left", "gastrocnemius_lateralis")}, default_side="right")
    assert [(c.label, c.side, c.muscle) for c in rec.emg] == [("TA", "right", "tibialis_anterior"),
                                                               ("SO", "left", "gastrocnemius_lateralis")]
    assert rec.unmapped == ["EMG7"]


def test_unit_factors():
    assert unit_factor("V") == 1e6 and unit_factor("mV") == 1e3 and unit_factor("\u00b5V") == 1.0
    assert unit_factor("counts") is None and unit_factor("") is None


def _emg_like(n, fs, rng):
    x = rng.standard_normal(n)
    sos = signal.butter(2, (40, 200), btype="bandpass", fs=fs, output="sos")
    return 50.0 * signal.sosfilt(sos, x)


def _band_power(x, fs, lo, hi):
    f, p = signal.welch(x, fs=fs, nperseg=int(fs * 2))
    return p[(f >= lo) & (f <= hi)].sum()


def test_powerline_removal_spares_emg_unlike_notch():
    fs, n = 2000.0, 2000 * 20
    rng = np.random.default_rng(0)
    emg = _emg_like(n, fs, rng)
    t = np.arange(n) / fs
    hum = 40.0 * np.sin(2 * np.pi * 50.0 * t + 0.3) + 8.0 * np.sin(2 * np.pi * 150.0 * t)
    x = emg + hum
    assert emgproc.detect_mains_hz(x, fs) == 50.0
    assert emgproc.detect_mains_hz(emg, fs, min_ratio=0.01) is None
    ratio, f0 = emgproc.powerline_ratio(x, fs)
    assert f0 == 50.0 and ratio > 0.1
    cleaned = emgproc.remove_powerline(x, fs, 50.0)
    notched = emgproc.notch_powerline(x, fs, 50.0)
    # Hum gone: residual at 50 Hz within 5 % of the EMG's own power there.
    near = lambda y: _band_power(y, fs, 49.5, 50.5)  # noqa: E731
    assert near(cleaned) < 1.3 * near(emg)
    # EMG spared: power in 45-55 Hz kept by interpolation, cut by the notch.
    keep = lambda y: _band_power(y, fs, 45, 55) / _band_power(emg, fs, 45, 55)  # noqa: E731
    assert 0.85 < keep(cleaned) < 1.15
    assert keep(notched) < keep(cleaned)
    # Away from the harmonics the signal is untouched.
    assert np.allclose(_band_power(cleaned, fs, 60, 140), _band_power(emg, fs, 60, 140), rtol=0.02)


def test_bandpass_clipped_to_rate_and_envelope_positive():
    assert emgproc.band_edges_hz(1000.0) == (20.0, 450.0)
    assert emgproc.band_edges_hz(800.0)[1] == pytest.approx(360.0)
    fs = 1000.0
    x = _emg_like(5000, fs, np.random.default_rng(1)) + 500.0  # DC offset removed by the band-pass
    y = emgproc.bandpass(x, fs)
    assert abs(np.mean(y)) < 1.0
    env = emgproc.linear_envelope(y, fs)
    assert np.all(env >= 0) and env.shape == y.shape


def test_detector_needs_no_rest_segment():
    """A record that starts and ends mid-burst, with no quiet lead-in, is still timed right.

    Bursts rise and fall over 10 ms (raised cosine) from the stated on/off times, at ~25 dB SNR.
    """
    fs = 2000.0
    rng = np.random.default_rng(4)
    t = np.arange(int(6 * fs)) / fs
    amp = np.zeros(len(t))
    bursts = [(0.0, 0.45), (1.1, 1.6), (2.2, 2.9), (3.5, 4.0), (4.6, 5.2), (5.7, 6.0)]
    for a, b in bursts:
        edge = np.clip(np.minimum(t - a, b - t) / 0.01, 0.0, 1.0)
        amp = np.maximum(amp, np.where((t >= a) & (t <= b), 0.5 - 0.5 * np.cos(np.pi * edge), 0.0))
    amp[t < 0.01] = 1.0  # the record starts mid-burst
    x = 2.0 * rng.standard_normal(len(t)) + 1.2 * amp * _emg_like(len(t), fs, rng)
    y = emgproc.bandpass(x, fs)
    det = onset.detect_bursts(y, fs)
    got = onset.intervals_s(det, t)
    assert det.modulated and len(got) == len(bursts)
    errors = []
    for (a, b), (ga, gb) in zip(bursts, got):
        if a > 0:
            errors.append(ga - a)
        if b < 6.0:
            errors.append(gb - b)
    errors = np.abs(errors)
    assert np.median(errors) < 0.012 and errors.max() < 0.035, errors


def test_unmodulated_signal_reports_no_bursts():
    fs = 2000.0
    y = emgproc.bandpass(np.random.default_rng(5).standard_normal(int(4 * fs)), fs)
    det = onset.detect_bursts(y, fs)
    assert not det.modulated and det.intervals == []
