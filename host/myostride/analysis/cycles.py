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


def time_normalise_many(t_s, values, starts_s, ends_s, grid_pct=PCT_GRID):
    """`time_normalise` of many strides in one interpolation: rows of the same numbers."""
    a, b = np.asarray(starts_s, dtype=np.float64), np.asarray(ends_s, dtype=np.float64)
    at = a[:, None] + (b - a)[:, None] * grid_pct[None, :] / 100.0
    return np.interp(at.reshape(-1), t_s, values).reshape(at.shape)


def interval_bounds(intervals_s):
    """(onsets, offsets) arrays of [[on_s, off_s], ...]: clip_intervals's search index, built once
    for all strides of a channel."""
    arr = np.asarray(intervals_s, dtype=np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def clip_intervals(intervals_s, start_s, end_s, bounds=None):
    """(seconds, % of cycle) of the intervals overlapping [start_s, end_s], clipped to it.

    bounds: interval_bounds(intervals_s), when the caller clips many strides."""
    out_s, out_pct = [], []
    dur = end_s - start_s
    if len(intervals_s) > 16:  # sorted, non-overlapping: only look near the stride
        ons, ends = interval_bounds(intervals_s) if bounds is None else bounds
        i0 = int(np.searchsorted(ends, start_s, side="right"))
        intervals_s = intervals_s[i0:i0 + 1 + int(np.searchsorted(ons[i0:], end_s))]
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
    on = np.zeros((len(cycles_pct), len(grid_pct)), dtype=bool)  # stride x grid point
    rows = [(k, a, b) for k, intervals in enumerate(cycles_pct) for a, b in intervals]
    if rows:
        k, a, b = (np.array(col) for col in zip(*rows))
        np.logical_or.at(on, k, (grid_pct[None, :] >= a[:, None]) & (grid_pct[None, :] <= b[:, None]))
    return on.sum(axis=0) / len(cycles_pct)


def span_indices(t_s, spans):
    """(spans, 2) array of the sample index ranges [i0, i1) of (start_s, end_s) spans in t_s."""
    if not len(spans):
        return np.zeros((0, 2), dtype=np.int64)
    return np.searchsorted(t_s, np.asarray(spans, dtype=np.float64).reshape(-1)).reshape(-1, 2)


def stride_rms(t_s, x, spans, index=None):
    """RMS of x within each (start_s, end_s) span (NaN-safe); NaN if the span holds no sample.

    index: span_indices(t_s, spans) when the caller has it."""
    out = []
    gaps = not np.all(np.isfinite(x))  # else no span needs its non-finite samples dropped
    for i0, i1 in (span_indices(t_s, spans) if index is None else index):
        seg = x[i0:i1]
        if gaps:
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
