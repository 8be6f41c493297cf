"""Statistics computed the same way on simulated and real EMG (for the realism tests).

Spectrum: Welch PSD (0.5 s segments) of the raw signal: median and mean
frequency, fraction of power in 20-450 Hz. Amplitude: excess kurtosis and RMS
of the 20 Hz high-passed signal, ratio of the 95th to the 10th percentile of
its 6 Hz linear envelope (active vs rest). Timing: duty cycle of the envelope
above 30 % of the way from its 10th to its 95th percentile.
"""

import numpy as np
import scipy.signal as ss
import scipy.stats as st


def spectrum_stats(x, fs_hz):
    x = np.asarray(x, dtype=float) - np.mean(x)
    f, p = ss.welch(x, fs=fs_hz, nperseg=int(fs_hz // 2))
    c = np.cumsum(p)
    return {
        "median_hz": float(f[np.searchsorted(c, c[-1] / 2.0)]),
        "mean_hz": float(np.sum(f * p) / np.sum(p)),
        "band_20_450": float(p[(f >= 20) & (f <= 450)].sum() / p.sum()),
    }


def envelope(x, fs_hz):
    sos = ss.butter(4, 20.0, "highpass", fs=fs_hz, output="sos")
    y = ss.sosfiltfilt(sos, np.asarray(x, dtype=float))
    sos = ss.butter(4, 6.0, "lowpass", fs=fs_hz, output="sos")
    return y, ss.sosfiltfilt(sos, np.abs(y))


def amplitude_stats(x, fs_hz):
    y, e = envelope(x, fs_hz)
    lo, hi = np.percentile(e, [10, 95])
    thr = lo + 0.3 * (hi - lo)
    return {
        "kurtosis": float(st.kurtosis(y)),
        "rms_uv": float(np.std(y)),
        "env_p95_p10": float(hi / lo),
        "duty": float(np.mean(e > thr)),
    }


def all_stats(x, fs_hz):
    d = spectrum_stats(x, fs_hz)
    d.update(amplitude_stats(x, fs_hz))
    return d
