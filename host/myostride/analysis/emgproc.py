"""EMG conditioning, scipy.signal style: pure functions over arrays with an explicit fs_hz.

Band-pass (zero-phase Butterworth, second-order sections), powerline removal by spectral
interpolation (Mewett 2004: only the magnitude inside +/-1 Hz of each mains harmonic is brought
down to its neighbours' level, phase kept, so the EMG at 50/60 Hz survives, as SENIAM/ISEK ask;
a notch is available as an option), rectification, linear envelope, moving RMS and amplitude
normalisation.
"""

import functools

import numpy as np
from scipy import fft as sfft
from scipy import signal

DEFAULT_BAND_HZ = (20.0, 450.0)
ENVELOPE_CUTOFF_HZ = 6.0
MAINS_CANDIDATES_HZ = (50.0, 60.0)
MAINS_HALF_WIDTH_HZ = 1.0
MAINS_NEIGHBOUR_HZ = 2.0
MIN_SEGMENT_S = 0.25


@functools.lru_cache(maxsize=256)
def _sos_cached(order, wn, btype, fs_hz):
    return signal.butter(order, wn, btype=btype, fs=fs_hz, output="sos")


def butter_sos(order, wn_hz, btype, fs_hz):
    """Butterworth second-order sections, designed once per (order, edges, type, rate): the design
    (zpk2sos) costs more than filtering a few seconds of signal, and every channel reuses it."""
    wn = tuple(float(w) for w in wn_hz) if np.ndim(wn_hz) else float(wn_hz)
    return _sos_cached(int(order), wn, btype, float(fs_hz)).copy()  # scipy's filters want a writable array


def band_edges_hz(fs_hz, band_hz=DEFAULT_BAND_HZ):
    """Band-pass edges clipped to the sampling rate (upper edge at most 0.45 fs)."""
    low, high = float(band_hz[0]), min(float(band_hz[1]), 0.45 * fs_hz)
    if not 0 < low < high:
        raise ValueError("band %s Hz is empty at fs %g Hz" % (band_hz, fs_hz))
    return low, high


def bandpass(x, fs_hz, band_hz=DEFAULT_BAND_HZ, order=4):
    """Zero-phase Butterworth band-pass (order per edge, run forward and back)."""
    low, high = band_edges_hz(fs_hz, band_hz)
    sos = butter_sos(order, (low, high), "bandpass", fs_hz)
    return signal.sosfiltfilt(sos, x, padlen=min(len(x) - 1, 3 * (2 * len(sos) + 1) * 10))


def _harmonic_bands(freqs_hz, mains_hz, top_hz):
    """Yield (band slice, neighbour index array) for each harmonic of mains_hz below top_hz.

    freqs_hz is an rfft frequency grid (uniform from 0), so bins are found by arithmetic.
    """
    if len(freqs_hz) < 2:
        return
    df = freqs_hz[1] - freqs_hz[0]
    n = len(freqs_hz)
    h = mains_hz
    while h < top_hz:
        b0 = max(0, int(np.ceil((h - MAINS_HALF_WIDTH_HZ) / df)))
        b1 = min(n, int(np.floor((h + MAINS_HALF_WIDTH_HZ) / df)) + 1)
        w = int(np.floor((MAINS_HALF_WIDTH_HZ + MAINS_NEIGHBOUR_HZ) / df))
        c = int(round(h / df))
        near = np.concatenate((np.arange(max(0, c - w), b0), np.arange(b1, min(n, c + w + 1))))
        if b1 > b0 and len(near):
            yield slice(b0, b1), near
        h += mains_hz


def powerline_ratio(x, fs_hz, mains_hz=None, band_hz=DEFAULT_BAND_HZ):
    """(share of in-band power within +/-1 Hz of mains harmonics beyond the local floor, mains_hz).

    With mains_hz None both 50 and 60 Hz are tried and the worse is reported. 0 means no hum.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    spec = np.abs(sfft.rfft(x)) ** 2
    freqs = sfft.rfftfreq(len(x), 1.0 / fs_hz)
    low, high = band_edges_hz(fs_hz, band_hz)
    total = spec[(freqs >= low) & (freqs <= high)].sum()
    if total <= 0:
        return 0.0, mains_hz
    best = (0.0, mains_hz)
    for f0 in ([mains_hz] if mains_hz else MAINS_CANDIDATES_HZ):
        excess = 0.0
        for band, near in _harmonic_bands(freqs, f0, high):
            excess += max(0.0, spec[band].sum() - spec[near].mean() * (band.stop - band.start))
        if excess / total > best[0] or best[1] is None:
            best = (excess / total, f0)
    return float(best[0]), best[1]


def detect_mains_hz(x, fs_hz, min_ratio=0.01):
    """50, 60 or None: the mains frequency whose harmonics stand out of the EMG spectrum."""
    ratio, f0 = powerline_ratio(x, fs_hz)
    return f0 if ratio >= min_ratio else None


def remove_powerline(x, fs_hz, mains_hz, top_hz=None):
    """Spectral interpolation: cap |X| inside +/-1 Hz of each harmonic at the neighbours' RMS level."""
    x = np.asarray(x, dtype=np.float64)
    spec = sfft.rfft(x)
    freqs = sfft.rfftfreq(len(x), 1.0 / fs_hz)
    mag = np.abs(spec)
    for band, near in _harmonic_bands(freqs, mains_hz, top_hz or fs_hz / 2.0):
        level = np.sqrt(np.mean(mag[near] ** 2))
        scale = np.minimum(1.0, level / np.maximum(mag[band], 1e-300))
        spec[band] *= scale
    return sfft.irfft(spec, n=len(x))


def notch_powerline(x, fs_hz, mains_hz, top_hz=None, q=30.0):
    """Fallback: zero-phase IIR notches at each harmonic (removes EMG power there too)."""
    y = np.asarray(x, dtype=np.float64)
    h = mains_hz
    while h < (top_hz or fs_hz / 2.0) and h < fs_hz / 2.0:
        b, a = signal.iirnotch(h, q, fs=fs_hz)
        y = signal.filtfilt(b, a, y)
        h += mains_hz
    return y


def condition(x, fs_hz, band_hz=DEFAULT_BAND_HZ, mains_hz=None, powerline="interpolate", centred=False):
    """Band-passed EMG with powerline interference removed (method "interpolate", "notch" or "off").

    centred: x already has its median subtracted (the caller needed that copy too)."""
    x = np.asarray(x, dtype=np.float64)
    y = bandpass(x if centred else x - np.median(x), fs_hz, band_hz)
    if mains_hz and powerline != "off":
        top = band_edges_hz(fs_hz, band_hz)[1]
        if powerline == "notch":
            y = notch_powerline(y, fs_hz, mains_hz, top)
        else:
            y = remove_powerline(y, fs_hz, mains_hz, top)
    return y


def linear_envelope(x, fs_hz, cutoff_hz=ENVELOPE_CUTOFF_HZ, order=4):
    """Full-wave rectification then zero-phase low-pass: the classic gait EMG envelope."""
    sos = butter_sos(order, cutoff_hz, "lowpass", fs_hz)
    env = signal.sosfiltfilt(sos, np.abs(x), padlen=min(len(x) - 1, 3 * (2 * len(sos) + 1) * 50))
    return np.maximum(env, 0.0)


def mean_psd(x, fs_hz, nperseg):
    """(freqs, averaged Hann-windowed periodogram) over non-overlapping segments, in one FFT call.

    Welch's estimate without overlap; relative units (only ratios are used). Much faster than
    scipy.signal.welch on long records because every segment is transformed in one batch.
    """
    x = np.asarray(x, dtype=np.float64)
    m = len(x) // nperseg
    if m == 0:
        raise ValueError("signal shorter than one segment")
    seg = x[: m * nperseg].reshape(m, nperseg)
    seg = seg - seg.mean(axis=1, keepdims=True)
    seg *= np.hanning(nperseg)
    power = np.abs(sfft.rfft(seg, axis=1))
    psd = np.mean(np.square(power, out=power), axis=0)
    return sfft.rfftfreq(nperseg, 1.0 / fs_hz), psd


def normalise(values, reference):
    """Divide by a positive reference amplitude (peak, mean or MVC); NaN if there is none."""
    if not reference or not np.isfinite(reference) or reference <= 0:
        return np.full_like(np.asarray(values, dtype=np.float64), np.nan)
    return np.asarray(values, dtype=np.float64) / reference
