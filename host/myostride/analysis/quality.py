"""Per-channel signal quality, and the rules that make a channel unreliable.

Metrics (JSON "quality" block): baseline noise (RMS of the rest class of the conditioned
signal, uV), powerline ratio (share of in-band power in the mains harmonics, before removal),
clipping (% of samples in runs of >= 3 equal values at the channel's extremes), motion-artefact
ratio (power 1-20 Hz over power in the EMG band, raw signal), lost samples, lead-off.
"""

import numpy as np
from .emgproc import DEFAULT_BAND_HZ, band_edges_hz, mean_psd

LIMITS = {
    "baseline_noise_uv": 30.0,
    "powerline_ratio": 0.9,
    "clipping_pct": 2.0,
    "motion_artifact_ratio": 3.0,
    "lost_pct": 20.0,
    "lead_off_pct": 50.0,
}


def clipped_mask(x, min_run=3):
    """Samples in runs of >= min_run identical values at the signal's max or min (a saturated ADC)."""
    x = np.asarray(x)
    if len(x) < min_run or x.max() == x.min():
        return np.zeros(len(x), dtype=bool)
    at_rail = (x == x.max()) | (x == x.min())
    same = x[1:] == x[:-1]
    flagged = at_rail & (np.concatenate(([False], same)) | np.concatenate((same, [False])))
    d = np.diff(np.concatenate(([0], flagged.view(np.int8), [0])))
    out = np.zeros(len(x), dtype=bool)
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        if e - s >= min_run:
            out[s:e] = True
    return out


def clipping_pct(x, min_run=3):
    """% of samples in runs of >= min_run identical values at the signal's max or min."""
    x = np.asarray(x)
    if len(x) and x.max() == x.min():
        return 100.0
    return 100.0 * float(np.mean(clipped_mask(x, min_run))) if len(x) else 0.0


def motion_artifact_ratio(x, fs_hz, band_hz=DEFAULT_BAND_HZ):
    """Welch power 1-20 Hz divided by power in the EMG band (raw signal)."""
    x = np.asarray(x, dtype=np.float64)
    nper = int(min(len(x), 2 ** int(np.log2(max(fs_hz, 256)))))  # ~1 s segments, 1 Hz bins
    f, p = mean_psd(x, fs_hz, nper)
    low, high = band_edges_hz(fs_hz, band_hz)
    lf = p[(f >= 1.0) & (f < low)].sum()
    emg = p[(f >= low) & (f <= high)].sum()
    return float(lf / emg) if emg > 0 else float("inf")


def span_total_s(spans, t0, t1):
    return float(sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in spans))


def assess(metrics, duration_s, lead_off_s, flat, modulated):
    """(usable, reasons) from the metrics; each reason names the problem and what to check."""
    reasons = []
    if flat:
        reasons.append("flat signal (all samples equal): sensor off or disconnected")
    if metrics["clipping_pct"] > LIMITS["clipping_pct"]:
        reasons.append("clipping %.1f %% of samples (limit %.0f %%): gain too high or electrode artefacts"
                       % (metrics["clipping_pct"], LIMITS["clipping_pct"]))
    if modulated and metrics["baseline_noise_uv"] is not None and metrics["baseline_noise_uv"] > LIMITS["baseline_noise_uv"]:
        reasons.append("baseline noise %.0f uV RMS (limit %.0f uV): check skin preparation and electrode contact"
                       % (metrics["baseline_noise_uv"], LIMITS["baseline_noise_uv"]))
    if metrics["powerline_ratio"] > LIMITS["powerline_ratio"]:
        reasons.append("powerline interference is %.0f %% of the signal (limit %.0f %%): check the reference electrode"
                       % (100 * metrics["powerline_ratio"], 100 * LIMITS["powerline_ratio"]))
    if metrics["motion_artifact_ratio"] > LIMITS["motion_artifact_ratio"]:
        reasons.append("motion artefact power %.1fx the EMG power (limit %.0fx): secure cables and electrodes"
                       % (metrics["motion_artifact_ratio"], LIMITS["motion_artifact_ratio"]))
    if duration_s > 0:
        lost_pct = 100.0 * metrics["lost_s"] / duration_s
        if lost_pct > LIMITS["lost_pct"]:
            reasons.append("%.0f %% of the samples were lost (limit %.0f %%): check the radio link" % (lost_pct, LIMITS["lost_pct"]))
        if 100.0 * lead_off_s / duration_s > LIMITS["lead_off_pct"]:
            reasons.append("electrode lead-off during %.0f %% of the recording" % (100.0 * lead_off_s / duration_s))
    return not reasons, reasons
