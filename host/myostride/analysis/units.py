"""Which unit a file's EMG numbers are really in, decided from the data, not only from its label.

Gait-lab files often carry a wrong ANALOG:UNITS: "V" on microvolt numbers, on amplified signals
(amplifier gain not removed) or on raw ADC counts. A physical unit is trusted only when the
channels' amplitudes are plausible for surface EMG in it; otherwise the unit is inferred from
scale-free evidence and the decision is said in words:

* counts: every sample an integer (a quantisation step of exactly 1 with ANALOG:SCALE 1), often
  with rails at a power of two (+/-2048: a 12-bit converter). The gain is unknown, so amplitudes
  stay in counts and no microvolt limit applies.
* a different physical unit: the file-median amplitude is a factor near 1e3 or 1e6 away from
  plausible (microvolts labelled "V", volts labelled "uV", ...): the decade that makes it
  plausible is used.
* amplified: the amplitude is 1e2-1e5 times too large for the declared unit and no single
  unit change explains it cleanly: most often the amplifier gain was not removed (or mV written
  as V). Amplitudes stay in file units ("a.u."), never presented as microvolts.

The decision is made per file from all its EMG channels together (a dead channel 40x below its
siblings does not decide the unit), then applied to each channel. `--emg-units` overrides it.
"""

import numpy as np

UNIT_TO_UV = {"v": 1e6, "mv": 1e3, "uv": 1.0, "\u00b5v": 1.0, "\u03bcv": 1.0, "microv": 1.0, "nv": 1e-3}
UNIT_NAMES = {1e6: "V", 1e3: "mV", 1.0: "uV", 1e-3: "nV"}

# Robust amplitude (RMS of the 20-450 Hz band, median over the file's live EMG channels) that
# surface EMG during walking has, in microvolts: from a quiet electrode's noise floor (~1 uV)
# to strong bursts (a few mV); the RMS over a trial lies well inside.
PLAUSIBLE_RMS_UV = (1.0, 2000.0)
# Rails of integer converters (+/-2^k): a signal at one is clipped counts.
# Amplifier gains run from about 100 to 10,000: a file 1e6 too large is a unit slip (uV written as
# V), not a gain left in.
MAX_GAIN = 1e5
COUNT_RAILS = tuple(2 ** k for k in range(7, 17))


def unit_factor(label):
    """Microvolts per file unit for a unit label, or None if the label is not a voltage unit."""
    key = (label or "").strip().lower().replace("micro", "u")
    return UNIT_TO_UV.get(key)


def quant_step(x):
    """Smallest positive difference between distinct sample values (the converter's step).

    The positive differences of the sorted samples are those of the distinct values (no need
    for np.unique's compaction)."""
    u = np.sort(np.asarray(x, dtype=np.float64))
    if len(u) < 2:
        return 0.0
    d = np.diff(u)
    d = d[d > 0]
    return float(d.min()) if len(d) else 0.0


def is_counts(x):
    """True when every sample is an integer and the numbers span more than a few steps."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or not np.all(np.isfinite(x)):
        return False
    return bool(np.all(x == np.round(x)) and quant_step(x) == 1.0 and np.ptp(x) >= 8)


def rails(x):
    """The power-of-two rail the samples sit at (e.g. 2048), or None."""
    hi, lo = float(np.max(x)), float(np.min(x))
    for r in COUNT_RAILS:
        if (hi in (r, r - 1) and lo in (-r, -r + 1)) or (lo == 0 and hi in (2 * r - 1,)):
            return r
    return None


def band_rms(x, fs_hz):
    """RMS of x in the EMG band (20 Hz to 0.45 fs), the amplitude the unit decision rests on."""
    from .emgproc import bandpass
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 64 or np.ptp(x) == 0:
        return 0.0
    return float(np.sqrt(np.mean(bandpass(x - np.median(x), fs_hz, (20.0, 450.0)) ** 2)))


def decide(channels, declared_units, fs_hz, override=None, preprocessed=None):
    """Per-channel unit decisions for one file.

    channels: list of 1-D arrays in file units (ezc3d-scaled); declared_units: their UNITS labels;
    preprocessed: per-channel bools (rectified signals: amplitude is taken as is, no band-pass).
    Returns a list of dicts: {"unit": "uV"|"counts"|"a.u.", "factor_to_uv": float or None,
    "declared": label, "how": "declared"|"inferred"|"override", "why": text}.
    """
    n = len(channels)
    preprocessed = preprocessed or [False] * n
    if override:
        f = unit_factor(override)
        return [{"unit": "uV", "factor_to_uv": f, "declared": declared_units[i], "how": "override",
                 "why": "--emg-units %s" % override} for i in range(n)]
    out = [None] * n
    amps = []
    for i, x in enumerate(channels):
        x = np.asarray(x, dtype=np.float64)
        if is_counts(x):
            r = rails(x)
            why = ("every sample is an integer (step 1)%s: raw converter counts with an unknown gain; "
                   "amplitudes are in counts" % (", rails at +/-%d" % r if r else ""))
            out[i] = {"unit": "counts", "factor_to_uv": None, "declared": declared_units[i], "how": "inferred",
                      "why": why}
            continue
        amp = float(np.median(np.abs(x))) if preprocessed[i] else band_rms(x, fs_hz)
        if amp > 0:
            amps.append((i, amp))
    live = [(i, a) for i, a in amps]
    if not live:
        for i in range(n):
            if out[i] is None:
                out[i] = _declared(declared_units[i], "no live channel to judge the unit by")
        return out
    # Decide per declared unit group, on the group's median amplitude: robust to dead channels.
    groups = {}
    for i, a in live:
        groups.setdefault((declared_units[i] or "").strip(), []).append((i, a))
    for label, members in groups.items():
        med = float(np.median([a for _, a in members]))
        decision = _decide_group(label, med)
        for i, _ in members:
            out[i] = dict(decision, declared=declared_units[i])
    for i in range(n):
        if out[i] is None:
            out[i] = _declared(declared_units[i], "flat channel")
    return out


def _declared(label, note):
    f = unit_factor(label)
    if f is None:
        return {"unit": "a.u.", "factor_to_uv": None, "declared": label, "how": "declared",
                "why": "unit %r is not a voltage; amplitudes in file units (%s)" % (label, note)}
    return {"unit": "uV", "factor_to_uv": f, "declared": label, "how": "declared", "why": "file says %s (%s)" % (label, note)}


def _plausible(rms_uv):
    return PLAUSIBLE_RMS_UV[0] <= rms_uv <= PLAUSIBLE_RMS_UV[1]


def _decide_group(label, med_amp):
    """The decision for channels declared in `label` whose median band RMS is med_amp file units."""
    f = unit_factor(label)
    if f is not None and _plausible(med_amp * f):
        return {"unit": "uV", "factor_to_uv": f, "how": "declared",
                "why": "file says %s; median EMG amplitude %.3g uV is plausible for surface EMG" % (label, med_amp * f)}
    as_text = ("%.3g uV if %s" % (med_amp * f, label)) if f is not None else "unit %r is not a voltage" % label
    # A whole decade change (uV<->mV<->V) that lands near the middle of the plausible range.
    centre = np.sqrt(PLAUSIBLE_RMS_UV[0] * PLAUSIBLE_RMS_UV[1])
    best = None
    for factor, name in UNIT_NAMES.items():
        if factor < 1.0:
            continue
        rms = med_amp * factor
        if _plausible(rms):
            score = abs(np.log10(rms / centre))
            if best is None or score < best[0]:
                best = (score, factor, name)
    if f is not None and best is not None and 1.0 < f / best[1] < MAX_GAIN:
        # Too large by a factor an amplifier gain explains as well as a unit slip: do not pretend.
        return {"unit": "a.u.", "factor_to_uv": None, "how": "inferred",
                "why": "median EMG amplitude would be %s, far above surface EMG: amplifier gain not removed "
                       "(or %s written as %s); amplitudes in file units, timing unaffected; give "
                       "--emg-units to state the unit" % (as_text, best[2], label)}
    if best is not None:
        return {"unit": "uV", "factor_to_uv": best[1], "how": "inferred",
                "why": "the file says %r but the median EMG amplitude would be %s, implausible for surface EMG; "
                       "read as %s (%.3g uV)" % (label, as_text, best[2], med_amp * best[1])}
    return {"unit": "a.u.", "factor_to_uv": None, "how": "inferred",
            "why": "median EMG amplitude %.3g file units fits no voltage unit (%s); amplitudes in file units"
                   % (med_amp, as_text)}
