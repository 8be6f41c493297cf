"""Gait events: choose among stored, force-plate, marker, gyroscope and footswitch events; check them.

Shank gyroscope (Aminian 2002): the sagittal angular velocity has one large peak per stride
at mid swing; toe off is the deepest minimum before it and foot strike the deepest minimum
after it. The sagittal axis is the one with the largest gait-band variance; its sign is chosen
so that the mid-swing peaks are positive. Footswitches: foot strike when the first switch of
the foot closes, foot off when the last opens.
"""

import numpy as np
from scipy import signal

from ..errors import UserError

STRIDE_S_RANGE = (0.6, 2.5)
STANCE_PCT_RANGE = (50.0, 75.0)
SIDES = ("left", "right")


def empty_events():
    return {side: {"foot_strike_s": [], "foot_off_s": []} for side in SIDES}


def _lowpass(x, fs_hz, cutoff_hz=8.0):
    sos = signal.butter(2, cutoff_hz, fs=fs_hz, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0, padlen=min(len(x) - 1, 60))


def sagittal_axis(gyro, fs_hz):
    """(axis index, sign, filtered sagittal signal) of a (n, k) gyroscope on the shank."""
    g = _lowpass(gyro - np.median(gyro, axis=0), fs_hz)
    axis = int(np.argmax(np.std(g, axis=0)))
    y = g[:, axis]
    hi, lo = np.percentile(y, 99.5), np.percentile(y, 0.5)
    sign = 1.0 if hi >= -lo else -1.0
    return axis, sign, sign * y


def events_from_gyro(t_s, gyro, axis=None, sign=None):
    """{"foot_strike_s", "foot_off_s"} from a shank gyroscope (any unit) sampled at times t_s."""
    t_s = np.asarray(t_s, dtype=np.float64)
    if len(t_s) < 10:
        return {"foot_strike_s": [], "foot_off_s": []}
    fs_hz = 1.0 / float(np.median(np.diff(t_s)))
    g = np.asarray(gyro, dtype=np.float64)
    g = g[:, None] if g.ndim == 1 else g
    if axis is None:
        axis, sign, y = sagittal_axis(g, fs_hz)
    else:
        y = (sign or 1.0) * _lowpass(g[:, axis] - np.median(g[:, axis]), fs_hz)
    top = np.percentile(y, 99)
    min_dist = max(1, int(STRIDE_S_RANGE[0] * 0.8 * fs_hz))
    peaks, _ = signal.find_peaks(y, height=0.4 * top, distance=min_dist, prominence=0.3 * top)
    strikes, offs = [], []
    search = int(0.45 * fs_hz)
    for p in peaks:
        a = p + 1
        b = min(len(y), p + search)
        if b - a > 2 and b < len(y):
            minima, _ = signal.find_peaks(-y[a:b])
            if len(minima):
                k = a + minima[int(np.argmin(y[a:b][minima]))]
                strikes.append(float(t_s[k]))
        a = max(0, p - search)
        if p - a > 2 and a > 0:
            minima, _ = signal.find_peaks(-y[a:p])
            if len(minima):
                k = a + minima[int(np.argmin(y[a:p][minima]))]
                offs.append(float(t_s[k]))
    return {"foot_strike_s": strikes, "foot_off_s": offs}


def events_from_footswitch(edges):
    """{"foot_strike_s", "foot_off_s"} from [(t_s, input, level), ...] of one foot."""
    pressed = set()
    strikes, offs = [], []
    for t, inp, level in sorted(edges):
        was = bool(pressed)
        if level:
            pressed.add(inp)
        else:
            pressed.discard(inp)
        if not was and pressed:
            strikes.append(float(t))
        elif was and not pressed:
            offs.append(float(t))
    return {"foot_strike_s": strikes, "foot_off_s": offs}


SOURCES = ("stored", "forceplate", "markers", "imu", "footswitch")
MATCH_TOLERANCE_S = 0.2  # same-kind events of one foot are >= 0.6 s apart: no ambiguity
DISAGREE_MEDIAN_MS = 40.0


def candidate_sources(recording):
    """({name: {side: {"foot_strike_s", "foot_off_s"}}}, {name: [notes]}) for every event source there is.

    "forceplate+markers" joins the two when both exist: marker events cover every step, and
    each plate event (more precise) replaces the marker event it matches.
    """
    out, notes = {}, {}
    if recording.events and any(recording.events[s][k] for s in SIDES for k in recording.events[s]):
        out["stored"] = recording.events
    derived = getattr(recording, "derived_events", {}) or {}
    for name in ("forceplate", "markers"):
        d = derived.get(name)
        if d and d.get("events") and any(d["events"][s][k] for s in SIDES for k in d["events"][s]):
            out[name] = d["events"]
    if "forceplate" in out and "markers" in out:
        merged = empty_events()
        for side in SIDES:
            for kind in ("foot_strike_s", "foot_off_s"):
                plate = list(out["forceplate"][side][kind])
                keep = [t for t in out["markers"][side][kind]
                        if not any(abs(t - p) <= MATCH_TOLERANCE_S / 2 for p in plate)]
                merged[side][kind] = sorted(keep + plate)
        out["forceplate+markers"] = merged
    if recording.gyro:
        events = empty_events()
        for side, gi in recording.gyro.items():
            events[side] = events_from_gyro(gi.t_s, gi.gyro, gi.axis, gi.sign)
            notes.setdefault("imu", []).append("%s events from the shank gyroscope %s" % (side, gi.label))
        if any(events[s]["foot_strike_s"] for s in SIDES):
            out["imu"] = events
        else:
            notes["imu"] = ["no strides found in the gyroscope signal(s)"]
    if recording.footswitch:
        events = empty_events()
        for side, edges in recording.footswitch.items():
            events[side] = events_from_footswitch(edges)
        if any(events[s]["foot_strike_s"] for s in SIDES):
            out["footswitch"] = events
    return out, notes


def _side_verdict(events_side):
    """(plausible strides, problem text or None) for one side's events."""
    strides = stride_checks(events_side["foot_strike_s"], events_side["foot_off_s"])
    good = sum(1 for st in strides if st[3] is None)
    bad = plausibility_warnings("", strides)
    if bad:
        return good, bad[0].strip()
    if not good:
        return 0, "no complete plausible stride (%d foot strike(s), %d foot off(s))" % (
            len(events_side["foot_strike_s"]), len(events_side["foot_off_s"]))
    return good, None


def select_events(recording, prefer=None, sides_needed=SIDES):
    """The events block: chosen events per side, the sources used and why, the cross-check.

    Automatic choice, per side: the stored events unless they give no plausible stride or look
    swapped/corrupt; then force plates with markers, markers, force plates, shank IMU,
    footswitch, in that order, whichever first gives a plausible stride. prefer: one of SOURCES
    (or "forceplate+markers") to use that source only. UserError when nothing is there.
    """
    cands, notes = candidate_sources(recording)
    if prefer and prefer not in SOURCES + ("forceplate+markers",):
        raise UserError("unknown --events-from %r; use %s" % (prefer, ", ".join(SOURCES)))
    if prefer:
        if prefer not in cands:
            raise UserError("the input has no usable %s gait events; drop --events-from to use what is there, or "
                            "give an events CSV with --events FILE" % prefer)
        order = [prefer]
    else:
        order = [n for n in ("stored", "forceplate+markers", "markers", "forceplate", "imu", "footswitch")
                 if n in cands]
    if not order:
        hint = ""
        if recording.meta.get("gyro_candidates"):
            hint = " (this file has gyroscopes: name a shank one with --gyro SIDE=%r)" % recording.meta["gyro_candidates"][0]
        raise UserError("no gait events: the input stores none and has no force plate contact, heel/toe markers, "
                        "shank IMU or footswitch to derive them from; give an events CSV with --events FILE "
                        "(columns side,foot_strike_s,foot_off_s)%s" % hint)
    warnings = []
    chosen, by_side = empty_events(), {}
    for side in SIDES:
        verdicts = {n: _side_verdict(cands[n][side]) for n in order}
        pick = next((n for n in order if verdicts[n][1] is None), None)
        if pick is None:
            pick = next((n for n in order if cands[n][side]["foot_strike_s"]), None)
        if pick is None:
            continue
        by_side[side] = pick
        chosen[side] = {k: list(v) for k, v in cands[pick][side].items()}
        if "stored" in verdicts and pick != "stored" and side in sides_needed:
            warnings.append("stored %s events not used: %s; %s events from %s"
                            % (side, verdicts["stored"][1], side, pick))
    if not by_side:
        raise UserError("no gait events for any side in the input; give an events CSV with --events FILE")
    used = sorted(set(by_side.values()), key=order.index)
    for name in used + ([] if "imu" in cands else ["imu"]):
        warnings += notes.get(name, [])
    source = used[0] if len(used) == 1 else ", ".join("%s (%s)" % (by_side[s], s) for s in SIDES if s in by_side)
    pure = {n: e for n, e in cands.items() if n != "forceplate+markers"}
    checks = cross_check(pure)
    for c in checks:
        if c["matched"] and c["median_abs_ms"] > DISAGREE_MEDIAN_MS:
            warnings.append("events from %s and %s disagree: median %.0f ms, largest %.0f ms over %d matched "
                            "event(s)" % (c["sources"][0], c["sources"][1], c["median_abs_ms"], c["max_abs_ms"],
                                          c["matched"]))
    return {"source": source, "source_by_side": by_side, "available": sorted(cands, key=lambda n: (
                n not in order, order.index(n) if n in order else 0)),
            "events": chosen, "cross_check": checks, "warnings": warnings}


def _match(a, b, tol_s=MATCH_TOLERANCE_S):
    """Differences b - a (s) of mutually nearest pairs within tol_s; unmatched counts inside the other's span."""
    a, b = sorted(a), sorted(b)
    diffs, used_b = [], set()
    for t in a:
        if not b:
            break
        j = int(np.argmin([abs(x - t) for x in b]))
        if abs(b[j] - t) <= tol_s and j not in used_b:
            i = int(np.argmin([abs(x - b[j]) for x in a]))
            if a[i] == t:
                diffs.append(b[j] - t)
                used_b.add(j)

    def inside(x, other):
        return bool(other) and min(other) - tol_s <= x <= max(other) + tol_s
    unmatched = sum(1 for t in a if inside(t, b)) + sum(1 for x in b if inside(x, a)) - 2 * len(diffs)
    return diffs, max(0, unmatched)


def cross_check(sources):
    """Agreement of every pair of event sources: matched events, median/largest difference, per kind."""
    names = [n for n in SOURCES if n in sources]
    out = []
    for i, na in enumerate(names):
        for nb in names[i + 1:]:
            entry = {"sources": [na, nb], "by_kind": {}}
            all_d, unmatched = [], 0
            for kind in ("foot_strike_s", "foot_off_s"):
                kd = []
                for side in SIDES:
                    d, u = _match(sources[na][side][kind], sources[nb][side][kind])
                    kd += d
                    unmatched += u
                all_d += kd
                entry["by_kind"][kind[:-2]] = _stats(kd)
            entry.update(_stats(all_d))
            entry["unmatched"] = unmatched
            if all_d or unmatched:
                out.append(entry)
    return out


def _stats(diffs_s):
    if not diffs_s:
        return {"matched": 0, "median_abs_ms": None, "max_abs_ms": None, "median_ms": None}
    d = np.asarray(diffs_s) * 1000.0
    return {"matched": len(d), "median_abs_ms": round(float(np.median(np.abs(d))), 1),
            "max_abs_ms": round(float(np.max(np.abs(d))), 1), "median_ms": round(float(np.median(d)), 1)}


def events_json(sel, recording, warnings):
    """The analysis JSON "events" object (docs/analysis.md, section 2)."""
    info = getattr(recording, "event_info", {}) or {}
    derived = getattr(recording, "derived_events", {}) or {}
    def rnd(side):
        return {k: [round(v, 4) for v in vals] for k, vals in sel["events"][side].items()}

    out = {"source": sel["source"], "source_by_side": sel["source_by_side"], "available": sel["available"],
           "convention": info.get("convention"),
           "stored": {"origin": info.get("origin"), "ignored_labels": info.get("ignored_labels", []),
                      "unknown_side": info.get("unknown_side", [])},
           "left": rnd("left"), "right": rnd("right"), "cross_check": sel["cross_check"]}
    if "forceplate" in derived:
        fp = derived["forceplate"]
        out["forceplate"] = {"contacts": fp.get("contacts", []), "unknown_side": fp.get("unknown_side", []),
                             "threshold_n": THRESHOLD_NOTE}
    if "markers" in derived:
        out["markers"] = derived["markers"].get("details", {})
    # Warnings concern the events used (how stored ones were read, why a source was chosen, which
    # sources disagree); notes are details of derived sources (rejected plate contacts, markers
    # not tracked) that matter only to someone checking those sources.
    out["warnings"] = list(info.get("warnings", [])) + list(warnings)
    out["notes"] = [w for name in ("forceplate", "markers") if name in derived
                    for w in derived[name].get("warnings", [])]
    return out


THRESHOLD_NOTE = "20 N or 5 noise SDs of the unloaded plate, whichever is larger"


def choose_events(recording, prefer=None):
    """(source, events, warnings): the best available gait events, or UserError saying how to add some."""
    sel = select_events(recording, prefer)
    return sel["source"], sel["events"], sel["warnings"]


def stride_checks(foot_strike_s, foot_off_s):
    """Per stride (strike i to strike i+1): (start_s, end_s, foot_off_s or None, problem or None)."""
    fs = sorted(foot_strike_s)
    fo = np.asarray(sorted(foot_off_s), dtype=np.float64)
    out = []
    for a, b in zip(fs[:-1], fs[1:]):
        inside = fo[(fo > a) & (fo < b)]
        dur = b - a
        off = float(inside[0]) if len(inside) == 1 else None
        problem = None
        if not STRIDE_S_RANGE[0] <= dur <= STRIDE_S_RANGE[1]:
            problem = "stride time %.2f s outside %.1f-%.1f s" % (dur, STRIDE_S_RANGE[0], STRIDE_S_RANGE[1])
        elif len(inside) != 1:
            problem = "%d foot offs between foot strikes (expected 1)" % len(inside)
        else:
            stance = 100.0 * (off - a) / dur
            if not STANCE_PCT_RANGE[0] <= stance <= STANCE_PCT_RANGE[1]:
                problem = "stance %.0f %% outside %.0f-%.0f %%" % (stance, STANCE_PCT_RANGE[0], STANCE_PCT_RANGE[1])
        out.append((float(a), float(b), off, problem))
    return out


def plausibility_warnings(side, strides):
    """Warnings about a side's events as a whole: swapped labels, mostly implausible strides."""
    warnings = []
    if not strides:
        return warnings
    stances = [100.0 * (off - a) / (b - a) for a, b, off, _ in strides if off is not None]
    bad = [s for s in strides if s[3]]
    if stances:
        med = float(np.median(stances))
        # Clearly short stance that would be normal with the labels exchanged (5 % margin).
        if med < STANCE_PCT_RANGE[0] - 5.0 and STANCE_PCT_RANGE[0] + 5.0 <= 100.0 - med <= STANCE_PCT_RANGE[1]:
            warnings.append("%s foot strike and foot off look swapped (median stance %.0f %%, %.0f %% if swapped); "
                            "check the event labels" % (side, med, 100.0 - med))
    if len(bad) * 2 > len(strides):
        warnings.append("%s events look corrupt: %d of %d strides implausible (%s)"
                        % (side, len(bad), len(strides), bad[0][3]))
    return warnings


def gait_summary(strides):
    """JSON gait block for one side from its plausible strides."""
    good = [(a, b, off) for a, b, off, problem in strides if problem is None]
    if not good:
        return {"strides": 0, "stride_time_s": {"mean": None, "sd": None}, "stance_pct": {"mean": None, "sd": None},
                "cadence_steps_per_min": None}
    dur = np.array([b - a for a, b, _ in good])
    stance = np.array([100.0 * (off - a) / (b - a) for a, b, off in good])
    def sd(v):
        return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0

    return {"strides": len(good),
            "stride_time_s": {"mean": round(float(dur.mean()), 4), "sd": round(sd(dur), 4)},
            "stance_pct": {"mean": round(float(stance.mean()), 2), "sd": round(sd(stance), 2)},
            "cadence_steps_per_min": round(120.0 / float(dur.mean()), 2)}
