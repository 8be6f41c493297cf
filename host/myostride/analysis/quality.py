"""Per-channel signal quality, and the rules that make a channel unreliable.

Metrics (JSON "quality" block): baseline noise (RMS of the rest class of the conditioned
signal, uV), powerline ratio (share of in-band power in the mains harmonics, before removal),
clipping (% of samples in runs of >= 3 equal values at the channel's extremes), motion-artefact
ratio (power 1-20 Hz over power in the EMG band, raw signal), lost samples, lead-off.
"""

import numpy as np
from scipy import fft as sfft

from .emgproc import DEFAULT_BAND_HZ, band_edges_hz, butter_sos, mean_psd

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


def clipping_pct(x, min_run=3, rail=None, mask=None):
    """% of samples in runs of >= min_run identical values at the signal's max or min; with a
    known converter rail (counts at +/-2^k), every sample at the rail counts.

    mask: clipped_mask(x, min_run) when the caller has it (not found twice)."""
    x = np.asarray(x)
    if len(x) and x.max() == x.min():
        return 100.0
    if not len(x):
        return 0.0
    if rail:
        return 100.0 * float(np.mean((x >= rail - 1) | (x <= -rail)))
    return 100.0 * float(np.mean(clipped_mask(x, min_run) if mask is None else mask))


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


# ---------------------------------------------------------------------------------------------
# Scale-free channel calls (issue 11): is this channel shown to record a muscle at all?
#
# Every feature below is a ratio within the channel (or against its siblings), so the call is
# the same whatever unit the file's numbers are in. Absolute microvolt limits (LIMITS above)
# are applied on top only when the unit is known (see units.py).

CALLS = ("usable", "weak", "dead", "clipped", "artefact", "pre-processed")
TECHNICAL_CALLS = ("weak", "dead", "clipped", "artefact")

# Modulation beyond stationary noise: log(p90/p10) of the channel's linear envelope divided by
# the same statistic of a phase-randomised copy (same spectrum, no modulation). Noise gives ~1.
MODULATION_DEAD = 1.5       # below: no on/off modulation beyond what noise of that spectrum shows
MODULATION_WEAK = 2.5       # below: modulated, but bursts barely stand out of the baseline
LF_SHARE_ARTEFACT = 0.5     # more power below the EMG band (1-20 Hz) than in it
LF_WINDOW_S = 0.25          # windows (about a quarter stride) in which that is judged
LF_DOMINATED_PCT = 50.0     # ... in at least half of them: artefact dominates the recording
MAINS_SHARE_DEAD = 0.2      # a fifth of the in-band power at mains harmonics, with no modulation
LSB_DEAD = 2.0              # EMG-band RMS within two converter steps: the converter sees nothing
SIBLING_QUIET = 0.1         # band RMS a tenth of the siblings' median: nothing reached the amplifier
EMG_MDF_HZ = (30.0, 200.0)  # median frequency of surface EMG (fatigue-free walking: ~50-150 Hz)
CONTINUOUS_MIN_UV = 20.0    # RMS a continuously active muscle shows above a good electrode's floor
ABSENT_MAX_UV = 10.0        # RMS of a good electrode over a silent muscle (noise floor, uV)
ABSENT_MIN_UV = 0.3         # below this a "quiet" channel is more likely disconnected than silent
PREPROC_NEG_PCT = 0.1       # rectified signals have (almost) no negative samples


def is_preprocessed(x):
    """True for already rectified (and maybe smoothed) EMG: no negative samples, resting near zero
    and skewed upwards (bursts), unlike raw EMG with a DC offset, which is symmetric."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 64 or np.ptp(x) == 0:
        return False
    if 100.0 * np.mean(x < 0) > PREPROC_NEG_PCT:
        return False
    lo, med, hi = np.percentile(x, (0.5, 50, 99.5))
    return bool(lo <= 0.5 * med and (hi - med) > 1.3 * (med - lo))


ENVELOPE_RATE_HZ = 200.0  # the 6 Hz envelope is judged at this rate (block means first: cheap on long records)


def _smooth_env(x, fs_hz, rectify):
    """6 Hz envelope of x (rectified first if asked), as block means at about ENVELOPE_RATE_HZ
    then a zero-phase low-pass: the same shape as filtering at the full rate, ~fs/200 times cheaper."""
    from scipy import signal
    x = np.abs(x) if rectify else np.asarray(x, dtype=np.float64)
    k = max(1, int(fs_hz // ENVELOPE_RATE_HZ))
    m = len(x) // k
    if m < 16:
        k, m = 1, len(x)
    env_rate = fs_hz / k
    blocks = x[: m * k].reshape(m, k).mean(axis=1)
    sos = butter_sos(2, min(6.0, 0.2 * env_rate), "lowpass", env_rate)
    env = signal.sosfiltfilt(sos, blocks, padlen=min(m - 1, 30))
    edge = int(0.1 * env_rate)
    return env[edge:len(env) - edge] if len(env) > 4 * edge else env


def _spread(env):
    p10, p90 = np.percentile(env, (10, 90))
    if p90 <= 0:
        return 0.0
    return float(np.log(p90 / max(p10, p90 * 1e-6)))


def modulation_ratio(x, fs_hz, rectify=True, seed=0):
    """Envelope modulation of x over that of phase-randomised copies of x (1: stationary noise).

    Phase randomisation keeps the spectrum (so bandwidth, mains and filtering are matched) and
    destroys any on/off pattern: the ratio says how much more the envelope swings than noise
    of the same colour would. Fixed seed: the same file always gets the same call."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 64 or np.ptp(x) == 0:
        return 0.0
    own = _spread(_smooth_env(x, fs_hz, rectify))
    rng = np.random.default_rng(seed)
    magnitude = np.abs(sfft.rfft(x - (x.mean() if rectify else 0.0), workers=1))
    nulls = []
    for _ in range(3):  # in place where the numbers allow: full-length temporaries cost page faults
        phase = 1j * rng.uniform(0, 2 * np.pi, len(magnitude))
        np.exp(phase, out=phase)
        phase[0] = 1.0
        phase *= magnitude
        null = sfft.irfft(phase, n=len(x), workers=1)
        del phase
        if rectify:
            np.abs(null, out=null)
        nulls.append(_spread(_smooth_env(null, fs_hz, False)))
    null = float(np.mean(nulls))
    return float(own / null) if null > 0 else float("inf")


def spectrum_shape(x, fs_hz, band_hz=DEFAULT_BAND_HZ):
    """(median frequency in the band, share of 1 Hz..top power below the band) of the raw signal."""
    x = np.asarray(x, dtype=np.float64)
    nper = int(min(len(x), 2 ** int(np.log2(max(fs_hz / 2, 128)))))
    f, p = mean_psd(x, fs_hz, nper)
    low, high = band_edges_hz(fs_hz, band_hz)
    inband = (f >= low) & (f <= high)
    band = p[inband]
    total = p[(f >= 1.0) & (f <= high)].sum()
    lf_share = float(p[(f >= 1.0) & (f < low)].sum() / total) if total > 0 else 0.0
    if band.sum() <= 0:
        return 0.0, lf_share
    c = np.cumsum(band)
    return float(f[inband][np.searchsorted(c, c[-1] / 2)]), lf_share


def lowfreq_dominated_pct(x, y, fs_hz, band_hz=DEFAULT_BAND_HZ, lf=None):
    """% of LF_WINDOW_S windows in which movement-artefact power (1 Hz to the band's low edge)
    exceeds the EMG-band power (y: x band-passed) and the channel's median window EMG power. A single large transient dominates the overall
    spectrum but few windows (its strides are excluded one by one); an artefact that dominates
    most windows dominates the channel."""
    from scipy import signal
    if lf is None:
        low = band_edges_hz(fs_hz, band_hz)[0]
        lf = signal.sosfiltfilt(butter_sos(2, (1.0, low), "bandpass", fs_hz), x - np.median(x))
    n = max(1, int(LF_WINDOW_S * fs_hz))
    m = len(x) // n
    if m == 0:
        return 0.0
    p_lf = (lf[: m * n] ** 2).reshape(m, n).sum(axis=1)
    p_emg = (y[: m * n] ** 2).reshape(m, n).sum(axis=1)
    # A slow wobble in a window where the EMG is at rest (or below one converter step) is not an
    # artefact that matters: it must also exceed the channel's typical (median) EMG window.
    return 100.0 * float(np.mean((p_lf > p_emg) & (p_lf > np.median(p_emg))))


def channel_features(x, fs_hz, preprocessed, band_hz=DEFAULT_BAND_HZ, step=None, y=None, lf=None):
    """Scale-free features of one channel's raw samples (file units, any unit).

    y, lf: the same samples already band-passed (and hum-removed) and 1-20 Hz filtered, when the
    caller has them (the pipeline's conditioning): not filtered twice."""
    from .emgproc import bandpass
    from .units import quant_step
    x = np.asarray(x, dtype=np.float64)
    flat = len(x) == 0 or np.ptp(x) == 0
    feats = {"flat": bool(flat), "preprocessed": bool(preprocessed)}
    if flat or len(x) < 64:
        feats.update(modulation_ratio=0.0, median_freq_hz=None, lowfreq_share=0.0, band_rms=0.0, lsb_rms=0.0)
        return feats
    step = quant_step(x) if step is None else step
    if preprocessed:
        y = x
        band_rms = float(np.median(x))
        feats.update(median_freq_hz=None, lowfreq_share=None)
    else:
        if y is None or len(y) != len(x) or not np.all(np.isfinite(y)):
            y = bandpass(x - np.median(x), fs_hz, band_hz)
        if lf is not None and (len(lf) != len(x) or not np.all(np.isfinite(lf))):
            lf = None
        band_rms = float(np.sqrt(np.mean(y ** 2)))
        mdf, lf_share = spectrum_shape(x, fs_hz, band_hz)
        feats.update(median_freq_hz=round(mdf, 1), lowfreq_share=round(lf_share, 4),
                     lowfreq_dominated_pct=round(lowfreq_dominated_pct(x, y, fs_hz, band_hz, lf), 1))
    if preprocessed:
        # Already an envelope: its burst-to-baseline ratio (p90/p10 of the smoothed envelope) is
        # the modulation; stationary rectified noise gives ~1.1-1.4 here too.
        feats["modulation_ratio"] = round(float(np.exp(_spread(_smooth_env(y, fs_hz, False)))), 3)
    else:
        feats["modulation_ratio"] = round(modulation_ratio(y, fs_hz), 3)
    feats["band_rms"] = band_rms
    feats["lsb_rms"] = round(band_rms / step, 2) if step > 0 else None
    return feats


def call_channel(feats, clip_pct, mains_share, sibling_ratio, unit_known, rms_uv):
    """(call, muscle_shown, reasons) for one channel from its scale-free features.

    call: one of CALLS. muscle_shown: the channel is shown to record a muscle, the condition for
    the whole-cycle claims "absent" and "continuous" (docs/analysis.md s.6). reasons: words.
    """
    reasons = []
    if feats["flat"]:
        return "dead", False, ["flat line (every sample equal): sensor off or disconnected"]
    mod = feats["modulation_ratio"]
    lsb = feats.get("lsb_rms")
    quiet_sib = sibling_ratio is not None and sibling_ratio < SIBLING_QUIET
    if clip_pct > LIMITS["clipping_pct"]:
        return "clipped", False, ["clipped: %.1f %% of samples at the converter's rails (limit %.0f %%): gain too "
                                  "high or electrode artefacts; amplitude and timing are distorted"
                                  % (clip_pct, LIMITS["clipping_pct"])]
    if feats["preprocessed"]:
        if mod < MODULATION_DEAD:
            return "dead", False, ["pre-processed (rectified) signal with no modulation beyond stationary noise "
                                   "(modulation %.2f, noise ~1)" % mod]
        if mod < MODULATION_WEAK:
            return "weak", False, ["pre-processed (rectified) signal only weakly modulated (modulation %.2f; "
                                   "usable from %.1f)" % (mod, MODULATION_WEAK)]
        return "pre-processed", False, ["already rectified/smoothed by the acquisition system: envelope analysed "
                                        "as recorded, without band-pass"]
    lf = feats.get("lowfreq_share") or 0.0
    mdf = feats.get("median_freq_hz")
    coarse = lsb is not None and lsb < LSB_DEAD
    if coarse:
        reasons.append("EMG-band RMS only %.1f converter steps: the signal lives within a few LSB" % lsb)
    if mod < MODULATION_DEAD:
        why = ["no on/off modulation beyond stationary noise (modulation %.2f, noise ~1)" % mod]
        if mains_share >= MAINS_SHARE_DEAD:
            why.append("%.0f %% of the EMG-band power at mains harmonics" % (100 * mains_share))
        if mdf is not None and not EMG_MDF_HZ[0] <= mdf <= EMG_MDF_HZ[1]:
            why.append("spectrum unlike EMG (median frequency %.0f Hz; surface EMG %.0f-%.0f Hz)" % ((mdf,) + EMG_MDF_HZ))
        if lf >= LF_SHARE_ARTEFACT:
            why.append("%.0f %% of the power below the EMG band (movement artefact)" % (100 * lf))
        clean = len(why) == 1 and not reasons and unit_known and rms_uv is not None
        continuous_ok = (clean and not quiet_sib and rms_uv >= CONTINUOUS_MIN_UV
                         and (sibling_ratio is None or sibling_ratio >= 0.5))
        if continuous_ok:
            return "usable", True, ["no on/off modulation, but a broadband EMG spectrum (median frequency %.0f Hz) "
                                    "at %.0f uV RMS, far above a good electrode's noise floor" % (mdf, rms_uv)]
        # Quiet against its siblings is expected of a silent muscle: not held against "absent".
        absent_ok = clean and ABSENT_MIN_UV <= rms_uv <= ABSENT_MAX_UV and mains_share < MAINS_SHARE_DEAD / 4
        if absent_ok:
            return "usable", True, ["no modulation at %.1f uV RMS with an EMG-shaped spectrum and little mains "
                                    "interference: a connected electrode over a quiet muscle" % rms_uv]
        if quiet_sib:
            why.append("amplitude %.2gx the median of its sibling channels" % sibling_ratio)
        return "dead", False, why + reasons
    if coarse:
        return "weak", False, reasons
    lf_dom = feats.get("lowfreq_dominated_pct") or 0.0
    if lf_dom >= LF_DOMINATED_PCT:
        return "artefact", False, ["movement artefact: power below the EMG band (1-20 Hz) exceeds the EMG power in "
                                   "%.0f %% of %.2g s windows (%.0f %% of all power)" % (lf_dom, LF_WINDOW_S, 100 * lf)]
    if mains_share >= MAINS_SHARE_DEAD * 2.5:
        return "artefact", False, ["mains interference carries %.0f %% of the EMG-band power" % (100 * mains_share)]
    if mod < MODULATION_WEAK:
        why = ["only marginal modulation beyond stationary noise (modulation %.2f; usable from %.1f)"
               % (mod, MODULATION_WEAK)]
        if quiet_sib:
            why.append("amplitude %.2gx the median of its sibling channels" % sibling_ratio)
        if mdf is not None and not EMG_MDF_HZ[0] <= mdf <= EMG_MDF_HZ[1]:
            # Marginal modulation without an EMG spectrum is noise, not a faint muscle.
            why.append("spectrum unlike EMG (median frequency %.0f Hz; surface EMG %.0f-%.0f Hz)" % ((mdf,) + EMG_MDF_HZ))
            if mains_share >= MAINS_SHARE_DEAD:
                why.append("%.0f %% of the EMG-band power at mains harmonics" % (100 * mains_share))
            return "dead", False, why
        return "weak", False, ["weak: bursts barely stand out of the baseline (modulation %.2f; usable from %.1f)"
                               % (mod, MODULATION_WEAK)] + why[1:]
    why = ["modulated %.1fx beyond stationary noise" % mod
           + ("" if mdf is None else ", EMG spectrum (median frequency %.0f Hz)" % mdf)]
    if lf_dom >= LF_DOMINATED_PCT / 2:
        why.append("movement artefact noted: it exceeds the EMG power in %.0f %% of %.2g s windows (strides where it "
                   "dominates are excluded)" % (lf_dom, LF_WINDOW_S))
    return "usable", True, why
