"""Gait cycles: foot strike to next foot strike, 0-100 % time normalisation, exclusions.

A stride is excluded (and counted) when its events are implausible, it is not wholly inside
the channel's recording, it overlaps a gap or a lead-off span, or its signal shows clipping or
a motion artefact far above the channel's other strides.
"""

import numpy as np

PCT_GRID = np.linspace(0.0, 100.0, 101)
ARTIFACT_FACTOR = 5.0


def overlaps(spans, a, b):
    return any(s < b and e > a for s, e in spans)


def exclusion_reason(start_s, end_s, event_problem, t_first_s, t_last_s, gaps, lead_off, clip_mask_fn,
                     artifact_fn):
    """The reason a stride cannot be used for this channel, or None."""
    if event_problem:
        return "events: " + event_problem
    if start_s < t_first_s or end_s > t_last_s:
        return "outside recording"
    if overlaps(gaps, start_s, end_s):
        return "gap in data"
    if overlaps(lead_off, start_s, end_s):
        return "electrode lead-off"
    if clip_mask_fn(start_s, end_s):
        return "clipping"
    if artifact_fn(start_s, end_s):
        return "motion artefact"
    return None


def time_normalise(t_s, values, start_s, end_s, grid_pct=PCT_GRID):
    """values resampled at start + (end - start) * pct / 100 (linear interpolation)."""
    return np.interp(start_s + (end_s - start_s) * grid_pct / 100.0, t_s, values)


def clip_intervals(intervals_s, start_s, end_s):
    """(seconds, % of cycle) of the intervals overlapping [start_s, end_s], clipped to it."""
    out_s, out_pct = [], []
    dur = end_s - start_s
    if len(intervals_s) > 16:  # sorted, non-overlapping: only look near the stride
        ends = [off for _, off in intervals_s]
        i0 = int(np.searchsorted(ends, start_s, side="right"))
        intervals_s = intervals_s[i0:i0 + 1 + int(np.searchsorted([on for on, _ in intervals_s[i0:]], end_s))]
    for on, off in intervals_s:
        if off <= start_s or on >= end_s:
            continue
        a, b = max(on, start_s), min(off, end_s)
        out_s.append([round(a, 4), round(b, 4)])
        out_pct.append([round(100.0 * (a - start_s) / dur, 2), round(100.0 * (b - start_s) / dur, 2)])
    return out_s, out_pct


def activation_frequency(cycles_pct, grid_pct=PCT_GRID):
    """Share of strides (0..1) with activity at each % of the cycle."""
    if not cycles_pct:
        return np.zeros(len(grid_pct))
    hits = np.zeros(len(grid_pct))
    for intervals in cycles_pct:
        on = np.zeros(len(grid_pct), dtype=bool)
        for a, b in intervals:
            on |= (grid_pct >= a) & (grid_pct <= b)
        hits += on
    return hits / len(cycles_pct)


def stride_rms(t_s, x, spans):
    """RMS of x within each (start_s, end_s) span (NaN-safe); NaN if the span holds no sample."""
    out = []
    for a, b in spans:
        i0, i1 = np.searchsorted(t_s, (a, b))
        seg = x[i0:i1]
        seg = seg[np.isfinite(seg)]
        out.append(float(np.sqrt(np.mean(seg * seg))) if len(seg) else float("nan"))
    return np.array(out)


def artefact_strides(lf_rms, emg_rms, factor=ARTIFACT_FACTOR):
    """Mask of strides whose low-frequency (motion) RMS is `factor` times the channel's median
    stride and larger than the stride's EMG RMS: a shaken cable or a knocked electrode."""
    lf = np.asarray(lf_rms)
    if len(lf) == 0 or not np.any(np.isfinite(lf)):
        return np.zeros(len(lf), dtype=bool)
    med = np.nanmedian(lf)
    return (lf > factor * med) & (lf > np.asarray(emg_rms))
