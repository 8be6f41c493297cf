"""Surface EMG synthesis: what one electrode pair and its front end would record.

Model (standard for testing onset detectors, e.g. Bonato 1998, Kowalski 2021):
zero-mean Gaussian noise with a surface-EMG spectrum (Shwedyk PSD realised as a
3rd-order filter, median ~55-105 Hz depending on the muscle), amplitude-modulated
by the muscle's activation envelope (raised-cosine rise/fall, peaked bursts,
burst-to-burst variation, slow recruitment fluctuation), plus baseline noise
at a chosen SNR, powerline hum, low-frequency motion artefacts at foot contact,
then quantised to 16-bit ADC codes. The carrier noise is generated per sample
index, the envelope, hum and artefacts at each sample's *global* time, so a
drifting node clock shifts timing exactly as a real crystal would.

`synthesize_trial` is the firmware-free entry point for analysis benchmarks.
"""

import numpy as np
import scipy.signal as ss

from .patient import GAIT_MUSCLES, PEAK_RMS_UV, SPECTRUM_HZ, Patient
from .physiology import SIDES, check_muscle

RISE_S = 0.020  # activation rise (raised cosine) after the true onset, seconds
FALL_S = 0.025  # activation fall (raised cosine) before the true offset
ARTIFACT_UV = {"shank": 90.0, "thigh": 40.0}  # heel-strike transient peak
SHANK_MUSCLES = ("tibialis_anterior", "gastrocnemius_medialis", "gastrocnemius_lateralis", "soleus", "peroneus_longus")
FRONT_END_BAND_HZ = (10.0, 500.0)  # baseline noise band of the analog front end
RECRUITMENT_SIGMA = 0.25  # slow lognormal amplitude fluctuation within bursts (motor-unit recruitment)


def segment_of(muscle):
    return "shank" if muscle in SHANK_MUSCLES else "thigh"


def semg_sos(fs_hz, fl_hz, fh_hz):
    """Digital filter whose power response is the Shwedyk et al. (1977) surface-EMG PSD,
    fh^4 f^2 / ((f^2 + fl^2)(f^2 + fh^2)^2): H(s) = wh^2 s / ((s + wl)(s + wh)^2).

    Zero-order-hold discretisation: keeps the median frequency within ~4 % of the
    analytic PSD's at 1 kHz (the bilinear transform pulls it down ~11 %)."""
    wl, wh = 2 * np.pi * fl_hz, 2 * np.pi * fh_hz
    den = np.polymul([1.0, wl], np.polymul([1.0, wh], [1.0, wh]))
    b, a, _ = ss.cont2discrete(([wh * wh, 0.0], den), 1.0 / fs_hz, method="zoh")
    b = np.atleast_1d(np.squeeze(b))
    b = b[np.argmax(np.abs(b) > 1e-12 * np.abs(b).max()):]  # ZOH leaves an exact-zero leading term
    return ss.zpk2sos(*ss.tf2zpk(b, a))


def front_end_sos(fs_hz, band_hz=FRONT_END_BAND_HZ):
    """Baseline-noise band of the analog front end (4th-order Butterworth)."""
    hi = min(band_hz[1], 0.45 * fs_hz)
    return ss.butter(4, [band_hz[0], hi], "bandpass", fs=fs_hz, output="sos")


def modulation_sos(fs_hz, corner_hz=3.0):
    return ss.butter(2, corner_hz, "lowpass", fs=fs_hz, output="sos")


class FilteredNoise:
    """Unit-variance Gaussian noise through a filter, produced in chunks.

    The filter state carries over between chunks and each instance draws from
    its own generator, so the output does not depend on the chunk sizes. The
    filter is warmed up on warmup_s of noise first (no start transient).
    """

    def __init__(self, sos, fs_hz, rng, warmup_s=0.5):
        self.sos = sos
        self.rng = rng
        n_imp = int(max(warmup_s, 0.5) * fs_hz * 4)
        imp = np.zeros(n_imp)
        imp[0] = 1.0
        self.gain = 1.0 / np.sqrt(np.sum(ss.sosfilt(sos, imp) ** 2))
        self.zi = np.zeros((sos.shape[0], 2))
        self.next(int(warmup_s * fs_hz))

    def next(self, n):
        y, self.zi = ss.sosfilt(self.sos, self.rng.standard_normal(n), zi=self.zi)
        return y * self.gain


def activation_envelope_uv(t_s, bursts):
    """Activation envelope (RMS uV) at sorted times t_s for a list of Burst.

    Inside a burst: raised-cosine rise over RISE_S from the true onset, a peak
    (at the burst's peak_frac of its duration) rising from 35 % of the burst
    amplitude, raised-cosine fall over FALL_S ending at the true offset; zero
    outside bursts. Real gait bursts are peaked, not flat (Santuz data).
    """
    t = np.asarray(t_s, dtype=float)
    env = np.zeros(len(t))
    for b in bursts:
        i0, i1 = np.searchsorted(t, (b.on_s, b.off_s))
        if i1 <= i0:
            continue
        tt = t[i0:i1]
        dur = b.off_s - b.on_s
        rise, fall = min(RISE_S, dur / 3.0), min(FALL_S, dur / 3.0)
        u = (tt - b.on_s) / dur
        p = b.peak_frac
        w = np.where(u < p, 0.5 * u / p, 0.5 + 0.5 * (u - p) / (1.0 - p))
        shape = 0.35 + 0.65 * np.sin(np.pi * w) ** 2
        r = np.clip((tt - b.on_s) / rise, 0.0, 1.0)
        f = np.clip((b.off_s - tt) / fall, 0.0, 1.0)
        shape *= 0.5 - 0.5 * np.cos(np.pi * np.minimum(r, f))
        env[i0:i1] = b.amp * shape
    return env


def contact_artifact_params(contact_s, rng, peak_uv):
    """Per foot contact: (time, amplitude uV, frequency Hz, decay s) of its motion artefact."""
    c = np.asarray(contact_s, dtype=float)
    n = len(c)
    amp = peak_uv * rng.uniform(0.4, 1.3, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return c, amp, rng.uniform(6.0, 14.0, n), rng.uniform(0.03, 0.07, n)


def contact_artifacts_uv(t_s, params, length_s=0.35):
    """Low-frequency damped transients at foot contacts (cable and skin motion)."""
    t = np.asarray(t_s, dtype=float)
    out = np.zeros(len(t))
    if not len(t):
        return out
    c, amp, f, tau = params
    for j in range(np.searchsorted(c, t[0] - length_s), np.searchsorted(c, t[-1], "right")):
        i0, i1 = np.searchsorted(t, (c[j], c[j] + length_s))
        if i1 > i0:
            dt = t[i0:i1] - c[j]
            out[i0:i1] += amp[j] * np.exp(-dt / tau[j]) * np.sin(2 * np.pi * f[j] * dt)
    return out


def hum_uv(t_s, hum_hz, amp_uv, phase):
    """Powerline interference: fundamental plus a small third harmonic."""
    if not hum_hz or not amp_uv:
        return np.zeros(len(t_s))
    w = 2 * np.pi * hum_hz * np.asarray(t_s, dtype=float)
    return amp_uv * (np.sin(w + phase) + 0.15 * np.sin(3 * w + 2 * phase))


CHUNK = 1 << 16  # samples per synthesis chunk (bounded memory for long trials)


def emg_uv(patient, side, muscle, t_s, fs_hz, rng, snr_db=30.0, hum_hz=50, hum_amp_uv=5.0, artifacts=True):
    """One channel's analog signal (uV) at the global sample times t_s (sorted).

    snr_db: 20*log10(muscle's nominal peak burst RMS / baseline noise RMS).
    Carrier, recruitment fluctuation, baseline noise and artefacts each draw from
    their own child of rng, so the result does not depend on how it is chunked.
    """
    muscle = check_muscle(muscle)
    t_s = np.asarray(t_s, dtype=float)
    n = len(t_s)
    r_shape, r_carrier, r_mod, r_noise, r_art = rng.spawn(5)
    fl, fh = SPECTRUM_HZ.get(muscle, (50.0, 110.0))
    scale = r_shape.uniform(0.9, 1.1)  # subject/electrode variation of the spectrum
    phase = r_shape.uniform(0, 2 * np.pi)
    carrier = FilteredNoise(semg_sos(fs_hz, fl * scale, fh * scale), fs_hz, r_carrier)
    modulation = FilteredNoise(modulation_sos(fs_hz), fs_hz, r_mod, warmup_s=3.0)
    noise = FilteredNoise(front_end_sos(fs_hz), fs_hz, r_noise)
    noise_rms = PEAK_RMS_UV.get(muscle, 100.0) / (10.0 ** (snr_db / 20.0))
    bursts = patient.bursts(side, muscle)
    g = patient.sides[side]
    art = None
    if artifacts:
        peak = ARTIFACT_UV[segment_of(muscle)] * (0.5 if g.toe_walking else 1.0)
        art = contact_artifact_params(g.foot_strike_s, r_art, peak)
    sigma = RECRUITMENT_SIGMA
    out = np.empty(n)
    for i0 in range(0, n, CHUNK):
        t = t_s[i0:i0 + CHUNK]
        m = len(t)
        x = carrier.next(m) * activation_envelope_uv(t, bursts)
        x *= np.exp(sigma * modulation.next(m) - 0.5 * sigma * sigma)
        x += noise_rms * noise.next(m)
        x += hum_uv(t, hum_hz, hum_amp_uv, phase)
        if art is not None:
            x += contact_artifacts_uv(t, art)
        out[i0:i0 + m] = x
    return out


def quantise(uv, nv_per_lsb):
    """Front-end ADC: int16 codes (LSB = nv_per_lsb nV), clipped at the rails."""
    codes = np.rint(np.asarray(uv, dtype=float) * (1000.0 / nv_per_lsb))
    return np.clip(codes, -32768, 32767).astype("<i2")


def _channel_keys(muscles):
    if muscles is None:
        return [(s, m) for s in SIDES for m in GAIT_MUSCLES]
    keys = []
    for item in muscles:
        if isinstance(item, str):
            keys += [(s, check_muscle(item)) for s in SIDES]
        else:
            side, m = item
            if side not in SIDES:
                raise ValueError("unknown side %r; use left or right" % (side,))
            keys.append((side, check_muscle(m)))
    return keys


def synthesize_trial(condition="normal", seconds=30.0, seed=0, fs_hz=2000, snr_db=20.0, hum_hz=50,
                     muscles=None, hum_amp_uv=5.0, artifacts=True):
    """Firmware-free simulated walking trial (uniformly sampled, ideal clock).

    condition: a preset of myosim.patient.PRESETS ("normal", "crouch", "equinus",
        "stiff-knee", "hemiplegic").
    seconds, seed, fs_hz: trial length, RNG seed (same seed -> same arrays), sample rate.
    snr_db: 20*log10(nominal peak burst RMS / baseline noise RMS) per muscle.
    hum_hz: 50, 60 or None (no hum); hum_amp_uv its amplitude.
    muscles: None (all 12 gait muscles, both sides), muscle names (both sides) or
        (side, muscle) tuples.
    artifacts: add foot-contact motion artefacts.

    Returns (signals_uv, events, truth):
      signals_uv: {(side, muscle): float64 array of uV}; sample i is at t = i / fs_hz seconds.
      events: {side: {"foot_strike_s": [...], "foot_off_s": [...]}} within [0, seconds].
      truth: {(side, muscle): [[on_s, off_s], ...]} true activation intervals overlapping
        [0, seconds] (not clipped: the first/last may extend past the trial's ends).
    The patient behind them is Patient(condition, 0.0, seconds, seed); its
    stride_intervals() gives the truth per stride.
    """
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    if hum_hz not in (None, 0, 50, 60):
        raise ValueError("hum_hz must be 50, 60 or None")
    keys = _channel_keys(muscles)
    patient = Patient(condition, 0.0, float(seconds), seed)
    n = int(round(seconds * fs_hz))
    t = np.arange(n) / float(fs_hz)
    signals, truth = {}, {}
    for side, m in keys:
        mid = GAIT_MUSCLES.index(m) if m in GAIT_MUSCLES else 90
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3000 + SIDES.index(side), mid]))
        signals[(side, m)] = emg_uv(patient, side, m, t, fs_hz, rng, snr_db, hum_hz, hum_amp_uv, artifacts)
        truth[(side, m)] = patient.intervals_s(side, m, 0.0, float(seconds))
    return signals, patient.events(0.0, float(seconds)), truth
