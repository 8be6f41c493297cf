"""Gait events: stored > shank gyroscope > footswitch, then plausibility checks.

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


def choose_events(recording, prefer=None):
    """(source, events, warnings): the best available gait events, or UserError saying how to add some.

    prefer: None (automatic: stored > imu > footswitch) or one of those names (then only it).
    """
    order = [prefer] if prefer else ["stored", "imu", "footswitch"]
    warnings = []
    for source in order:
        if source == "stored":
            if recording.events and any(recording.events[s]["foot_strike_s"] for s in SIDES):
                return "stored", recording.events, warnings
        elif source == "imu":
            if recording.gyro:
                events = empty_events()
                for side, gi in recording.gyro.items():
                    events[side] = events_from_gyro(gi.t_s, gi.gyro, gi.axis, gi.sign)
                    warnings.append("%s events from the shank gyroscope %s" % (side, gi.label))
                if any(events[s]["foot_strike_s"] for s in SIDES):
                    return "imu", events, warnings
                warnings.append("no strides found in the gyroscope signal(s)")
        elif source == "footswitch":
            if recording.footswitch:
                events = empty_events()
                for side, edges in recording.footswitch.items():
                    events[side] = events_from_footswitch(edges)
                if any(events[s]["foot_strike_s"] for s in SIDES):
                    return "footswitch", events, warnings
        else:
            raise UserError("unknown --events-from %r; use stored, imu or footswitch" % source)
    if prefer:
        raise UserError("the input has no usable %s gait events; drop --events-from to use what is there, or "
                        "give an events CSV with --events FILE" % prefer)
    hint = ""
    if recording.meta.get("gyro_candidates"):
        hint = " (this file has gyroscopes: name a shank one with --gyro SIDE=%r)" % recording.meta["gyro_candidates"][0]
    raise UserError("no gait events: the input stores none and has no shank IMU or footswitch; give an events "
                    "CSV with --events FILE (columns side,foot_strike_s,foot_off_s)%s" % hint)


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
