"""Gait events from marker trajectories (Zeni et al. 2008, Gait & Posture 27:710).

Along the walking direction, a foot's heel relative to the pelvis reaches its most anterior
position at foot strike and its toe its most posterior position at foot off. The method needs
no force plate and works over the whole walk, overground or on a treadmill:

* vertical axis: the lab axis along which the pelvis sits far above the feet (no assumption on
  the lab's axis convention: Y-up and Z-up labs both exist);
* walking direction: overground, the pelvis's own horizontal velocity, smoothed over ~1 s and
  followed frame by frame (curved paths and turns keep working); on a treadmill (pelvis
  travels < 0.5 m) the horizontal axis along which the feet swing most, pointed forward by the
  ASIS-PSIS direction, or failing that by the gait's asymmetry (the foot moves forward
  quickly in swing and back slowly in stance);
* trajectories low-passed at 7 Hz (zero phase); extremes picked with a prominence of a third of
  the foot's excursion and at least 0.5 s apart, timed between frames by a parabola through
  the three frames around each;
* each foot strike then moved to where the heel's descent ends (`_refine_strikes`): Zeni's
  heel extreme comes while the heel is still descending, before contact.

Gaps (occluded markers, NaN) are interpolated when shorter than 0.1 s and otherwise split the
signal; no event is placed at a segment's edge.
"""

import numpy as np
from scipy import signal

from .marker_names import find_markers

LOWPASS_HZ = 7.0
MIN_EVENT_SEP_S = 0.5
TREADMILL_TRAVEL_MM = 500.0
MAX_GAP_S = 0.1


def _fill_short_gaps(x, max_gap):
    """x (n,) with NaN runs of at most max_gap samples interpolated; longer runs stay NaN."""
    x = np.array(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    if not bad.any() or bad.all():
        return x
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[~bad], x[~bad])
    edges = np.flatnonzero(np.diff(np.concatenate(([0], bad.astype(int), [0]))))
    for a, b in zip(edges[0::2], edges[1::2]):
        if b - a <= max_gap and a > 0 and b < len(x):
            x[a:b] = filled[a:b]
    return x


def _runs(finite):
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(int), [0]))))
    return list(zip(edges[0::2], edges[1::2]))


def _smooth(x, rate_hz):
    """Zero-phase low-pass of each finite run of x (n,) or (n, k); NaN elsewhere."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    cutoff = min(LOWPASS_HZ, 0.4 * rate_hz)
    sos = signal.butter(2, cutoff, fs=rate_hz, output="sos")
    finite = np.all(np.isfinite(x), axis=1) if x.ndim == 2 else np.isfinite(x)
    for a, b in _runs(finite):
        if b - a > 12:
            out[a:b] = signal.sosfiltfilt(sos, x[a:b], axis=0, padlen=min(b - a - 1, 3 * int(rate_hz / cutoff)))
    return out


def _extrema(y, rate_hz, t_s, find_max):
    """Times of prominent maxima (or minima) of y, interpolated between frames."""
    out = []
    for a, b in _runs(np.isfinite(y)):
        seg = y[a:b] if find_max else -y[a:b]
        if b - a < 5:
            continue
        span = np.percentile(seg, 95) - np.percentile(seg, 5)
        if span <= 0:
            continue
        peaks, _ = signal.find_peaks(seg, distance=max(1, int(MIN_EVENT_SEP_S * rate_hz)), prominence=span / 3.0)
        for p in peaks:
            if p <= 0 or p >= len(seg) - 1:
                continue
            y0, y1, y2 = seg[p - 1], seg[p], seg[p + 1]
            den = y0 - 2 * y1 + y2
            shift = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            out.append(float(t_s[a + p] + np.clip(shift, -0.5, 0.5) / rate_hz))
    return out


def _refine_strikes(times_s, height, rate_hz, t_s):
    """Move each Zeni foot strike to where the heel's descent ends (the heel meets the floor).

    Zeni's extremes find every step robustly, but the heel is most anterior while still
    descending, 25-75 ms before contact on the lab files. Contact is where the descent ends:
    after the heel's fastest descent (searched from the Zeni time to 0.3 s later), the first time
    its downward speed falls below 10 % of that peak, interpolated between frames. Vertical motion
    is the same on a treadmill (the belt moves horizontally). A strike keeps its Zeni time when no
    descent is found (a marker gap, a shuffling step). Foot off keeps Zeni's toe extreme: the toe
    marker sits on the forefoot and rises with the heel before the toe leaves the floor.
    """
    v = np.gradient(height) * rate_hz
    n = len(v)
    out = []
    for ts in times_s:
        k = int(round((ts - t_s[0]) * rate_hz))
        end = min(n, k + int(0.3 * rate_hz) + 1)
        seg = v[max(k, 0):end]
        if len(seg) < 3 or not np.all(np.isfinite(seg)):
            out.append(ts)
            continue
        j = max(k, 0) + int(np.argmin(seg))
        peak = -v[j]
        after = np.flatnonzero(-v[j:end] < 0.1 * peak) if peak > 0 else []
        if len(after) and after[0] > 0:
            i1 = j + after[0]
            y0, y1 = -v[i1 - 1], -v[i1]
            frac = (y0 - 0.1 * peak) / (y0 - y1) if y0 != y1 else 0.0
            out.append(float(t_s[i1 - 1] + frac / rate_hz))
        else:
            out.append(ts)
    return out


def _vertical_axis(pelvis, feet):
    """Index of the lab axis along which the pelvis is far from the feet on average."""
    diffs = [np.nanmedian(pelvis - f, axis=0) for f in feet]
    d = np.nanmean(np.abs(np.vstack(diffs)), axis=0)
    return int(np.nanargmax(d)) if np.isfinite(d).any() else None


def walking_direction(pelvis, rate_hz, vertical, feet, asis=None, psis=None):
    """(unit horizontal direction per frame (n, 3), "overground"|"treadmill", how the sign was chosen)."""
    n = len(pelvis)
    horiz = [k for k in range(3) if k != vertical]
    p = pelvis.copy()
    p[:, vertical] = 0.0
    finite = np.all(np.isfinite(p), axis=1)
    travel = 0.0
    if finite.sum() > 2:
        fi = np.flatnonzero(finite)
        travel = float(np.linalg.norm(p[fi[-1]] - p[fi[0]]))
    if travel >= TREADMILL_TRAVEL_MM:
        win = max(3, int(rate_hz * 1.0) | 1)
        v = np.full((n, 3), np.nan)
        for a, b in _runs(finite):
            if b - a >= 3:
                v[a:b] = np.gradient(p[a:b], axis=0)
        vs = np.full((n, 3), np.nan)
        kernel = np.ones(win)
        for k in horiz:
            num = np.convolve(np.nan_to_num(v[:, k]), kernel, mode="same")
            den = np.convolve(np.isfinite(v[:, k]).astype(float), kernel, mode="same")
            vs[:, k] = np.where(den > 0, num / np.maximum(den, 1), np.nan)
        vs[:, vertical] = 0.0
        norm = np.linalg.norm(vs, axis=1)
        d = vs / np.where(norm > 0, norm, np.nan)[:, None]
        return d, "overground", "pelvis velocity"
    # Treadmill (or walking on the spot): the horizontal axis of the largest foot excursion.
    rel = np.vstack([f - pelvis for f in feet])
    rel = rel[np.all(np.isfinite(rel), axis=1)]
    var = [np.var(rel[:, k]) if len(rel) else 0.0 for k in range(3)]
    axis = max(horiz, key=lambda k: var[k])
    d = np.zeros(3)
    d[axis] = 1.0
    how = "gait asymmetry"
    if asis is not None and psis is not None:
        fwd = np.nanmedian(asis - psis, axis=0)
        if np.isfinite(fwd[axis]) and abs(fwd[axis]) > 30.0:
            d[axis] = np.sign(fwd[axis])
            how = "ASIS ahead of PSIS"
    if how == "gait asymmetry":
        # Swing (forward) is quicker than stance (backward): forward velocities are the rarer, larger ones.
        x = np.concatenate([np.diff(f[:, axis] - pelvis[:, axis]) for f in feet])
        x = x[np.isfinite(x)]
        if len(x):
            d[axis] = 1.0 if np.mean(x > 0) < 0.5 else -1.0
    return np.tile(d, (n, 1)), "treadmill", how


MIN_TRACKED_S = 1.0  # a marker must be tracked for at least this long to be used


def _tracked_frames(points, i):
    return int(np.sum(np.all(np.isfinite(np.asarray(points[:3, i, :], dtype=np.float64)), axis=0)))


def _first_tracked(points, candidates, min_frames):
    for i in candidates:
        if _tracked_frames(points, i) >= min_frames:
            return i
    return None


def events_from_markers(points, labels, rate_hz, t_s):
    """{"events": {side: {...}}, "details": {...}, "warnings": [...]} or None without usable markers.

    points: (3 or 4, n_markers, n_frames) as ezc3d returns them (mm, NaN where occluded);
    t_s: time of each frame on the trial clock. A foot with a tracked heel gives foot strikes,
    one with a tracked toe gives foot offs.
    """
    found = find_markers(labels)
    warnings = []
    if rate_hz <= 0 or points.shape[-1] < 10:
        return None
    min_frames = max(10, int(MIN_TRACKED_S * rate_hz))
    chosen = {}
    for s in ("left", "right"):
        f = found.get(s, {"heel": [], "toe": []})
        for part in ("heel", "toe"):
            i = _first_tracked(points, f[part], min_frames)
            if i is not None:
                chosen.setdefault(s, {})[part] = i
            elif f[part]:
                warnings.append("markers: %s %s marker %s is tracked in too few frames to use"
                                % (s, part, "/".join(labels[j] for j in f[part])))
    pel = found["pelvis"]
    # The sacrum alone when it is tracked as well as the best ASIS/PSIS, else the tracked ASIS/PSIS.
    spines = [i for i in pel["asis"] + pel["psis"] if _tracked_frames(points, i) >= min_frames]
    best = max([_tracked_frames(points, i) for i in spines] or [0])
    pel_idx = [i for i in pel["sacrum"] if _tracked_frames(points, i) >= max(min_frames, best)][:1] or spines
    if not chosen or not pel_idx:
        if chosen and not pel_idx:
            warnings.append("markers: feet found but no tracked pelvis marker (SACR, ASIS, PSIS)")
        return {"events": None, "details": {}, "warnings": warnings} if warnings else None
    max_gap = int(MAX_GAP_S * rate_hz)

    def traj(i):
        xyz = np.asarray(points[:3, i, :], dtype=np.float64).T  # (n, 3)
        xyz = np.column_stack([_fill_short_gaps(xyz[:, k], max_gap) for k in range(3)])
        return _smooth(xyz, rate_hz)

    def mean_traj(idx):
        return np.mean(np.stack([traj(i) for i in idx]), axis=0) if idx else None

    asis = [i for i in pel["asis"] if i in pel_idx]
    psis = [i for i in pel["psis"] if i in pel_idx]
    pelvis = mean_traj(pel_idx)
    feet = {s: {part: traj(i) for part, i in c.items()} for s, c in chosen.items()}
    all_feet = [x for f in feet.values() for x in f.values()]
    with np.errstate(all="ignore"):
        import warnings as _w
        with _w.catch_warnings():
            _w.simplefilter("ignore", RuntimeWarning)  # frames where nothing is tracked stay NaN
            vertical = _vertical_axis(pelvis, all_feet)
            if vertical is None:
                warnings.append("markers: the pelvis and the feet are never tracked in the same frames")
                return {"events": None, "details": {}, "warnings": warnings}
            direction, mode, how = walking_direction(pelvis, rate_hz, vertical, all_feet,
                                                     mean_traj(asis) if asis else None,
                                                     mean_traj(psis) if psis else None)
    up = 1.0 if np.nanmedian(pelvis[:, vertical] - all_feet[0][:, vertical]) > 0 else -1.0
    events = {}
    for s in ("left", "right"):
        f = feet.get(s, {})
        events[s] = {"foot_strike_s": [], "foot_off_s": []}
        if "heel" in f:
            zeni = _extrema(np.sum((f["heel"] - pelvis) * direction, axis=1), rate_hz, t_s, True)
            events[s]["foot_strike_s"] = _refine_strikes(zeni, up * f["heel"][:, vertical], rate_hz, t_s)
        if "toe" in f:
            events[s]["foot_off_s"] = _extrema(np.sum((f["toe"] - pelvis) * direction, axis=1), rate_hz, t_s, False)
    details = {"markers": {s: {part: labels[i] for part, i in c.items()} for s, c in chosen.items()},
               "pelvis": [labels[i] for i in pel_idx], "mode": mode, "direction_from": how,
               "vertical_axis": "xyz"[vertical], "method": "Zeni 2008 (heel most anterior = strike, toe most "
               "posterior = off, relative to the pelvis along the walking direction), foot strikes timed "
               "at the end of the heel's descent"}
    for s in ("left", "right"):
        if s not in chosen:
            warnings.append("markers: no tracked heel or toe marker for the %s foot" % s)
    return {"events": events, "details": details, "warnings": warnings}
