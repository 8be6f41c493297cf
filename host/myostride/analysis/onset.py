"""Muscle on/off detection without a hand-picked rest segment.

Method ("double-threshold with changepoint refinement"):
1. Short-time power (centred moving mean of x^2 over `window_s`), in log, of the conditioned EMG
   filtered by its own activity-to-rest spectral ratio (`snr_weighted`, detection only).
2. The baseline level is learnt from the recording itself: Otsu's split of the log-power
   histogram separates rest from activity; the rest class gives a robust centre and spread
   (median, MAD). No rest segment has to be chosen by hand, and walking always has quiet
   phases for a phasic muscle.
3. Hysteresis detection on the log power (on above max(baseline + k_on spread, midway to the
   active class), off below baseline + k_off spread), then duration rules: gaps shorter than
   `min_gap_s` are bridged, bursts shorter than `min_burst_s` dropped (Bonato 1998 style).
4. Each onset and offset is refined to the change of variance found by Page's CUSUM (last
   zero before the rise; design ratio a share of the burst's rise), bounded by the
   neighbouring bursts (Staude 2001 discusses such changepoint estimators). Onsets are timed
   on a causally high-passed copy and offsets on an anti-causally high-passed one, so the
   zero-phase band-pass's ringing ahead of a rise (after a fall) is not taken for activity.
5. The CUSUM time (where the rise became detectable) is moved back to where the amplitude
   left zero by a maximum-likelihood fit of a smooth (quadratic) amplitude start over the
   next `ramp_after_s` (`_ramp_start`; rate free, no ramp length assumed).
6. Weak bursts: the changepoint lags a gradual rise and the centred-window crossing leads it,
   so the two are blended by the burst's SNR (all changepoint above 20 dB, all crossing below
   10 dB). Steps are in docs/analysis.md s.4.
The benchmark bench/bench_onset.py justifies this against the BioSPPy and NeuroKit2 detectors.
"""

import functools

import numpy as np

DEFAULTS = {
    "window_s": 0.050,
    "k_on": 5.0,
    "k_off": 2.0,
    "min_burst_s": 0.030,
    "min_gap_s": 0.030,
    "refine_before_s": 0.100,
    "refine_after_s": 0.040,
    "min_separation_db": 6.0,
    "refine": "cusum",
    "snr_weighting": True,
    "blend_db": 15.0,
    "cusum_ratio": None,
    "cusum_fraction": 0.2,
    "cusum_min_ratio": 1.5,
    "cusum_cap": 20.0,
    "edge_highpass_hz": 40.0,
    "ramp_fit": True,
    "ramp_before_s": 0.030,
    "ramp_after_s": 0.020,
}


class Detection:
    """Result of `detect_bursts`: sample index pairs, the baseline found, and whether the
    signal is modulated at all (False: no rest/active split, so no interval is trusted)."""

    def __init__(self, intervals, baseline_power, active_power, modulated, threshold_power):
        self.intervals = intervals
        self.baseline_power = baseline_power
        self.active_power = active_power
        self.modulated = modulated
        self.threshold_power = threshold_power


def cumulative(x):
    """[0, x0, x0 + x1, ...]: window sums by subtraction (`moving_mean`, the detector's burst power)."""
    return np.concatenate(([0.0], np.cumsum(np.asarray(x, dtype=np.float64))))


def moving_mean(x, n, c=None):
    """Centred moving mean (length preserved; edges average the available samples).

    c: cumulative(x), when the caller has it."""
    x = np.asarray(x, dtype=np.float64)
    size = len(x)
    n = max(1, min(int(n), size))
    c = cumulative(x) if c is None else c
    half = n // 2
    out = np.empty(size)
    # Interior: windows [i - half, i - half + n) fully inside.
    i0, i1 = half, size - n + half + 1
    out[i0:i1] = (c[n:] - c[:-n]) / n
    idx = np.concatenate((np.arange(0, i0), np.arange(i1, size)))
    lo = np.clip(idx - half, 0, size)
    hi = np.clip(idx - half + n, 0, size)
    out[idx] = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    return out


def otsu_threshold(values, bins=256):
    """Otsu's threshold of a 1-D sample (maximises the between-class variance)."""
    hist, edges = np.histogram(values, bins=bins)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = m0 / w0
        mu1 = (mt - m0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2
    between[~np.isfinite(between)] = -1
    return float(centres[int(np.argmax(between))])


def baseline_stats(log_power):
    """(baseline centre, spread, active centre) of log10 power via Otsu + median/MAD."""
    thr = otsu_threshold(log_power)
    low = log_power[log_power <= thr]
    high = log_power[log_power > thr]
    if len(low) == 0:
        low = log_power
    centre = float(np.median(low))
    spread = float(1.4826 * np.median(np.abs(low - centre))) or 1e-3
    active = float(np.median(high)) if len(high) else centre
    return centre, spread, active


def _runs(mask):
    """(start, end) index pairs of True runs, end exclusive."""
    d = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def hysteresis(log_power, on_level, off_level):
    """Runs where log_power rose above on_level, extended while it stays above off_level."""
    above_off = log_power > off_level
    out = []
    for a, b in _runs(above_off):
        if np.any(log_power[a:b] > on_level):
            out.append([int(a), int(b)])
    return out


def duration_rules(runs, fs_hz, params):
    """Bonato-style duration rules on (start, end) runs: bridge gaps shorter than `min_gap_s`,
    then drop bursts shorter than `min_burst_s`."""
    min_gap = int(round(params["min_gap_s"] * fs_hz))
    merged = []
    for a, b in runs:
        if merged and a - merged[-1][1] < min_gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    min_burst = int(round(params["min_burst_s"] * fs_hz))
    return [r for r in merged if r[1] - r[0] >= min_burst]

def _changepoint(energy_cumsum, a, b, min_len):
    """Index in (a, b) of the most likely single change of variance in samples a..b-1."""
    if b - a < 2 * min_len + 1:
        return None
    k = np.arange(a + min_len, b - min_len)
    n1 = (k - a).astype(np.float64)
    n2 = (b - k).astype(np.float64)
    s1 = energy_cumsum[k] - energy_cumsum[a]
    s2 = energy_cumsum[b] - energy_cumsum[k]
    tiny = 1e-300
    cost = n1 * np.log(s1 / n1 + tiny) + n2 * np.log(s2 / n2 + tiny)
    return int(k[int(np.argmin(cost))])


def _cusum_start(z2, ratio, cap):
    """Index in z2 (energy / baseline variance) where a rise of variance by `ratio` began.

    Page's CUSUM of the Gaussian log-likelihood ratio (variance 1 vs `ratio`); the change is
    estimated as the last time the statistic was at zero before the end of the window,
    which is the maximum-likelihood change time for the detected rise. The statistic is
    capped at `cap` so that a transient (a motion artefact before the burst) decays back to
    zero instead of pulling the onset early.
    """
    if len(z2) == 0:
        return None
    llr = (0.5 * (1.0 - 1.0 / ratio) * z2 - 0.5 * np.log(ratio)).tolist()
    g = 0.0
    last_zero = 0
    for i, v in enumerate(llr):
        g += v
        if g > cap:
            g = cap
        elif g <= 0.0:
            g = 0.0
            last_zero = i + 1
    return min(last_zero, len(z2) - 1)


def _ramp_start(z2, k_hint, before, after):
    """Index in z2 (energy / rest variance, time running into the burst) where the amplitude
    began to rise, by maximum likelihood over a smooth start: variance 1 before t0 and
    1 + (s (t - t0)^2)^2 after, i.e. an amplitude growing quadratically from zero, the
    leading Taylor term of any smooth envelope that leaves zero with zero slope. The CUSUM's
    estimate is where the rise became detectable, which lags the start by however long the
    amplitude takes to clear the noise; the fit extrapolates back to where it left zero. Only
    `before` samples ahead of and `after` samples past the CUSUM's estimate are used, so no
    ramp length or later burst shape is assumed; the rate s is free. Returns k_hint if the
    window is too short.
    """
    lo, hi = max(0, k_hint - before), min(len(z2), k_hint + after)
    if hi - lo < 8 or k_hint <= lo:
        return k_hint
    e = z2[lo:hi]
    # Coarse grid (every 4th t0, 8 rates), then a fine one around its best: ~8x fewer
    # likelihoods than the full grid, which matters at ~20 000 edges per 10-minute session.
    rates, rate_lo, rate_hi, fine_factors = _ramp_rate_grid(after)
    t0s = np.arange(0, k_hint - lo + 1, 4)
    j, r = _ramp_grid_best(e, t0s, rates)
    t0s = np.arange(max(0, t0s[j] - 3), min(k_hint - lo, t0s[j] + 3) + 1)
    j, _ = _ramp_grid_best(e, t0s, np.clip(rates[r] * fine_factors, rate_lo, rate_hi))
    return int(lo + t0s[j])


@functools.lru_cache(maxsize=8)
def _ramp_rate_grid(after):
    """(coarse rates, lowest, highest, fine-grid factors) for a fit over `after` samples.

    Amplitude (rest sd) reached `after` samples into the rise: 9 to 1600 sd. A slower start is
    not identifiable from a stretch at noise level (t0 and rate trade off), so it is excluded.
    The same for every edge of a recording, so designed once.
    """
    rate_lo, rate_hi = 9.0 / float(after * after), 1600.0 / float(after * after)
    step = (rate_hi / rate_lo) ** (1.0 / 7.0)
    rates = np.geomspace(rate_lo, rate_hi, 8)
    rates.flags.writeable = False
    factors = np.geomspace(1.0 / step, step, 7)
    factors.flags.writeable = False
    return rates, rate_lo, rate_hi, factors


@functools.lru_cache(maxsize=8)
def _sample_axis(n):
    t = np.arange(n, dtype=np.float64)
    t.flags.writeable = False
    return t


def _cusum_starts(windows, ratios, cap):
    """`_cusum_start` of many windows at once (same arithmetic, element for element).

    The statistic is stepped through time for all windows together, longest first, so the
    windows still running at a step are a leading block of rows that is updated in place.
    Returns a list of indices (None for an empty window).
    """
    out = [None] * len(windows)
    idx = sorted((i for i, w in enumerate(windows) if len(w)), key=lambda i: -len(windows[i]))
    if not idx:
        return out
    lengths = np.array([len(windows[i]) for i in idx])
    z = np.zeros((len(idx), int(lengths[0])))
    for row, i in enumerate(idx):
        z[row, :lengths[row]] = windows[i]
    r = np.asarray([ratios[i] for i in idx], dtype=np.float64)
    llr = (0.5 * (1.0 - 1.0 / r))[:, None] * z - (0.5 * np.log(r))[:, None]
    g = np.zeros(len(idx))
    last_zero = np.zeros(len(idx), dtype=np.int64)
    live = np.searchsorted(-lengths, -np.arange(z.shape[1]), side="left")  # rows with length > step
    for j in range(z.shape[1]):
        m = live[j]
        gj = g[:m]
        gj += llr[:m, j]
        np.minimum(gj, cap, out=gj)  # cap where above (the same number either way)
        at_zero = gj <= 0.0
        gj[at_zero] = 0.0
        last_zero[:m][at_zero] = j + 1
    for row, i in enumerate(idx):
        out[i] = int(min(last_zero[row], lengths[row] - 1))
    return out


def _ramp_starts(windows, hints, before, after, chunk=256):
    """`_ramp_start` of many windows at once, with identical results.

    Fits whose data stretch has the same length are stacked. Their variance models do not depend
    on the data: the coarse grid is the same for every fit, and each fine grid is a window of a
    table over (fine rate, t - t0). So each variance and its log are computed once per fit length
    (and cached) and only the likelihood sums run per fit (the log was most of the cost). Grid
    points a fit would not try (t0 beyond its window) get an infinite likelihood, which cannot
    change the first minimum. Chunks of 256 fits (26 MB temporaries at 2 kHz): 64 is a little
    faster on its own but doubled the whole analysis's page faults (glibc then returns the
    freed FFT buffers to the system and faults them in again), net slower.
    """
    out = list(hints)
    groups = {}
    for i, (z2, k) in enumerate(zip(windows, hints)):
        lo, hi = max(0, k - before), min(len(z2), k + after)
        if hi - lo < 8 or k <= lo:
            continue
        groups.setdefault(hi - lo, []).append((i, lo))
    grid = _ramp_grid(before, after)
    for length, members in groups.items():
        for c in range(0, len(members), chunk):
            part = members[c:c + chunk]
            e = np.stack([windows[i][lo:lo + length] for i, lo in part])
            spans = np.array([hints[i] - lo for i, lo in part])
            width = int(spans.max()) // 4 + 1
            t0s = grid.coarse_t0[:width]
            nll = _nll(e, *grid.coarse(width, length))
            nll = np.where(t0s[None, None, :] > spans[:, None, None], np.inf, nll)
            j, r = _first_min(nll)
            fine = t0s[j][:, None] + _FINE_STEPS[None, :]
            nll = _nll(e, *grid.fine(r, fine, length))
            nll = np.where(((fine < 0) | (fine > spans[:, None]))[:, None, :], np.inf, nll)
            j, _ = _first_min(nll)
            best = fine[np.arange(len(part)), j]
            for row, (i, lo) in enumerate(part):
                out[i] = int(lo + best[row])
    return out


_FINE_STEPS = np.arange(-3, 4)


def _nll(e, v, log_v):
    """sum over t of log v + e / v: energies e (fits, t), variances (fits or 1, rates, t0s, t)."""
    terms = np.divide(e[:, None, None, :], v)
    terms += log_v
    return np.sum(terms, axis=3)


def _first_min(nll):
    """(t0 index, rate index) of each fit's first minimum in nll (fits, rates, t0s), flat order."""
    r, j = np.divmod(np.argmin(nll.reshape(len(nll), -1), axis=1), nll.shape[2])
    return j, r


@functools.lru_cache(maxsize=8)
def _ramp_grid(before, after):
    """The `_RampGrid` of fits `before` + `after` samples long, the same for every edge."""
    return _RampGrid(before, after)


class _RampGrid:
    """Variances 1 + (rate (t - t0)_+^2)^2 and their logs for fits over up to before + after
    samples, with the same element arithmetic as `_ramp_grid_best`: the coarse grid (every 4th
    t0 up to `before`, the 8 coarse rates) and, per coarse rate, a table over t - t0 of its 7
    fine rates. A shorter fit uses the first samples of the same numbers."""

    def __init__(self, before, after):
        rates, rate_lo, rate_hi, factors = _ramp_rate_grid(after)
        t = _sample_axis(before + after)
        self.coarse_t0 = np.arange(0, before + 1, 4)
        d2 = np.maximum(t[None, :] - self.coarse_t0[:, None], 0.0) ** 2
        self.coarse_v = 1.0 + (rates[:, None, None] * d2[None, :, :]) ** 2  # (rate, t0, t)
        self.coarse_log = np.log(self.coarse_v)
        # Fine t0s lie in [-3, before + 3]; table column u holds t - t0 = u - offset.
        self.offset = before + 3
        lags = np.arange(-self.offset, before + after + 3, dtype=np.float64)
        d2 = np.maximum(lags, 0.0) ** 2
        fine_rates = np.clip(rates[:, None] * factors[None, :], rate_lo, rate_hi)  # (coarse rate, fine rate)
        self.table = 1.0 + (fine_rates[:, :, None] * d2[None, None, :]) ** 2
        self.table_log = np.log(self.table)

    def coarse(self, width, length):
        """(variance, log variance), each (1, rates, first `width` t0s, `length` samples)."""
        return self.coarse_v[None, :, :width, :length], self.coarse_log[None, :, :width, :length]

    def fine(self, r, t0s, length):
        """(variance, log variance), each (fits, fine rates, t0s, `length` samples), for coarse
        rate indices r (fits,) and t0 candidates t0s (fits, t0s)."""
        idx = (r[:, None, None], np.arange(self.table.shape[1])[None, :, None], (self.offset - t0s)[:, None, :])
        window = np.lib.stride_tricks.sliding_window_view
        return window(self.table, length, axis=2)[idx], window(self.table_log, length, axis=2)[idx]


def _ramp_grid_best(e, t0s, rates):
    """(t0 index, rate index) minimising the negative log-likelihood of energies e (rest = 1)
    under variance 1 + (rate (t - t0)_+^2)^2, over the grid t0s x rates."""
    t = _sample_axis(len(e))
    d2 = np.maximum(t[None, :] - t0s[:, None], 0.0) ** 2  # (t0, t)
    v = 1.0 + (rates[:, None, None] * d2[None, :, :]) ** 2  # (rate, t0, t)
    nll = np.sum(np.log(v) + e / v, axis=2)
    r, j = divmod(int(np.argmin(nll)), nll.shape[1])
    return int(j), int(r)


def _design_ratio(burst_to_rest, p):
    """Variance ratio the CUSUM looks for: a fixed share (in dB) of this burst's rise above rest,
    so a strong burst is timed where it leaves the noise and a weak one is still found."""
    if p["cusum_ratio"]:
        return p["cusum_ratio"]
    return float(max(p["cusum_min_ratio"], burst_to_rest ** p["cusum_fraction"]))


def _local_var(power, lo, hi, baseline_var):
    """Baseline variance next to a burst: the global rest level, or the local quiet level if
    higher (residual hum or motion artefact raise the floor locally)."""
    if hi - lo < 8:
        return baseline_var
    seg = power[lo:hi]
    k = len(seg) // 4
    return max(baseline_var, float(np.partition(seg, k)[k]))


def _local_vars(power, spans, baseline_var):
    """`_local_var` of many (lo, hi) spans at once: the windows padded with +inf and sorted
    together give each one's k-th smallest value, the same number a partition selects."""
    out = [baseline_var] * len(spans)
    rows = [i for i, (lo, hi) in enumerate(spans) if hi - lo >= 8]
    if not rows:
        return out
    starts = np.array([spans[i][0] for i in rows])
    lengths = np.array([spans[i][1] - spans[i][0] for i in rows])
    cols = np.arange(int(lengths.max()))
    inside = cols[None, :] < lengths[:, None]
    windows = np.where(inside, power[np.where(inside, starts[:, None] + cols[None, :], 0)], np.inf)
    windows.sort(axis=1)
    kth = windows[np.arange(len(rows)), lengths // 4]
    for row, i in enumerate(rows):
        out[i] = max(baseline_var, float(kth[row]))
    return out


def snr_weighted(x, fs_hz, window_s=0.025, power=None):
    """x filtered by the square root of its own activity-to-rest spectral ratio.

    A first Otsu split of the short-time power labels rest and active samples; their Welch
    spectra give, per frequency, how much louder activity is than rest. Weighting by
    sqrt(max(ratio - 1, 0)) keeps the bands where this muscle's EMG stands out of this
    recording's noise (an Eckart-style detection filter learnt from the signal itself).
    Returns x unchanged if the split is not clear. power: moving_mean(x * x, window) when the
    caller has it (the detector needs it too).
    """
    from scipy import fft as sfft

    from .emgproc import mean_psd

    n = len(x)
    if power is None:
        power = moving_mean(x * x, round(window_s * fs_hz))
    logp = np.log10(power + 1e-12)
    thr = otsu_threshold(logp[:: max(1, int(fs_hz * 0.002))])
    rest, active = x[logp <= thr], x[logp > thr]
    nper = int(2 ** round(np.log2(0.064 * fs_hz)))
    if len(rest) < 4 * nper or len(active) < 4 * nper:
        return x
    f, s_rest = mean_psd(rest, fs_hz, nper)
    _, s_act = mean_psd(active, fs_hz, nper)
    gain = np.sqrt(np.maximum(s_act / np.maximum(s_rest, 1e-30) - 1.0, 0.0))
    if not np.any(gain > 0):
        return x
    gain /= np.sqrt(np.mean(gain ** 2))
    spec = sfft.rfft(x)
    spec *= np.interp(sfft.rfftfreq(n, 1.0 / fs_hz), f, gain)
    return sfft.irfft(spec, n=n)


def edge_energies(x, fs_hz, highpass_hz, order=2):
    """(onset energy, offset energy): x squared after a causal and an anti-causal high-pass.

    The zero-phase band-pass of the conditioning rings ahead of a sharp rise and after a
    sharp fall (its 20 Hz edge, run both ways), so energy appears before the true onset and
    after the true offset. A causal filter can only spread energy later in time and an
    anti-causal one only earlier, so a causal high-pass above that ringing removes it from the
    onset side without adding any of its own, and the time-reversed filter does the same for
    offsets. The EMG carrier (50-150 Hz) passes almost unchanged.
    """
    from scipy import signal

    from .emgproc import butter_sos

    sos = butter_sos(order, highpass_hz, "highpass", fs_hz)
    y_on = signal.sosfilt(sos, x)
    y_off = signal.sosfilt(sos, x[::-1])[::-1]
    return y_on * y_on, y_off * y_off


def _rest_ratio(edge_energy, energy, rest_mask):
    """Rest-level power of an edge signal relative to the unfiltered one (1 if no rest)."""
    if edge_energy is energy or not np.any(rest_mask):
        return 1.0
    den = float(np.mean(energy[rest_mask]))
    return float(np.mean(edge_energy[rest_mask])) / den if den > 0 else 1.0


def detect_bursts(x, fs_hz, params=None):
    """Detection of activation bursts in conditioned EMG x (band-passed, hum removed)."""
    p = dict(DEFAULTS)
    p.update(params or {})
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    # Coarse detection on the SNR-weighted signal (sensitivity); timing refined on x itself,
    # whose edges the weighting filter would smear. x's short-time power serves both.
    energy = x * x
    cum = cumulative(energy)
    power_x = moving_mean(energy, round(p["window_s"] * fs_hz), cum)
    xd = snr_weighted(x, fs_hz, p["window_s"], power_x) if p["snr_weighting"] and n > fs_hz else x
    power = power_x if xd is x else moving_mean(xd * xd, round(p["window_s"] * fs_hz))
    log_power = np.log10(power + 1e-12)
    step = max(1, int(fs_hz * 0.002))
    centre, spread, active = baseline_stats(log_power[::step])
    separation_db = 10.0 * (active - centre)
    if n == 0 or separation_db < p["min_separation_db"]:
        return Detection([], 10 ** centre, 10 ** active, False, None)
    on_level = max(centre + p["k_on"] * spread, 0.5 * (centre + active))
    off_level = min(centre + p["k_off"] * spread, on_level)
    coarse = duration_rules(hysteresis(log_power, on_level, off_level), fs_hz, p)
    min_burst = int(round(p["min_burst_s"] * fs_hz))
    # Changepoint refinement, each search bounded by the neighbouring bursts.
    power = power_x
    rest = log_power <= centre + 3 * spread
    rest_power = power[::step][rest[::step]]
    baseline_var = float(np.mean(rest_power)) if len(rest_power) else float(np.mean(energy))
    e_on, e_off = energy, energy
    if p["edge_highpass_hz"] and p["refine"] == "cusum":
        e_on, e_off = edge_energies(x, fs_hz, p["edge_highpass_hz"])
    # Each edge signal's own rest level (the high-pass removes a little of the noise too).
    scale_on = _rest_ratio(e_on, energy, rest)
    scale_off = _rest_ratio(e_off, energy, rest)
    before = int(round(p["refine_before_s"] * fs_hz))
    after = int(round(p["refine_after_s"] * fs_hz))
    min_len = max(2, int(round(0.005 * fs_hz)))
    ramp_before = int(round(p["ramp_before_s"] * fs_hz))
    ramp_after = int(round(p["ramp_after_s"] * fs_hz))
    if p["refine"] == "cusum":
        refined = _refine_cusum(coarse, n, p, power, baseline_var, cum, e_on, e_off, scale_on, scale_off,
                                before, after, ramp_before, ramp_after, min_burst)
        return Detection(refined, 10 ** centre, 10 ** active, True, 10 ** on_level)
    refined = []
    for i, (a, b) in enumerate(coarse):
        prev_end = refined[-1][1] if refined else 0
        next_start = coarse[i + 1][0] if i + 1 < len(coarse) else n
        mid = (a + b) // 2
        if p["refine"] == "cusum":
            burst_power = (cum[b] - cum[a]) / max(b - a, 1)
            lo, hi = max(prev_end, a - before), min(mid, a + after)
            var = _local_var(power, lo, a, baseline_var)
            z2 = e_on[lo:hi] / (var * scale_on)
            k = _cusum_start(z2, _design_ratio(burst_power / var, p), p["cusum_cap"])
            if k is not None and p["ramp_fit"]:
                k = _ramp_start(z2, k, ramp_before, ramp_after)
            on = None if k is None else lo + k
            lo, hi = max(mid, b - after), min(next_start, b + before)
            var = _local_var(power, b, hi, baseline_var)
            z2 = e_off[lo:hi][::-1] / (var * scale_off)
            k = _cusum_start(z2, _design_ratio(burst_power / var, p), p["cusum_cap"])
            if k is not None and p["ramp_fit"]:
                k = _ramp_start(z2, k, ramp_before, ramp_after)
            off = None if k is None else hi - k
            if p["blend_db"] is not None and on is not None and off is not None:
                snr = 10.0 * np.log10(max(burst_power / baseline_var, 1e-12))
                w = float(np.clip((snr - p["blend_db"] + 5.0) / 10.0, 0.0, 1.0))
                on = int(round(w * on + (1 - w) * a))
                off = int(round(w * off + (1 - w) * b))
        elif p["refine"] == "step":
            on = _changepoint(cum, max(prev_end, a - before), min(mid, a + after), min_len)
            off = _changepoint(cum, max(mid, b - after), min(next_start, b + before), min_len)
        else:  # "none": the hysteresis crossings themselves
            on, off = a, b
        on = a if on is None else on
        off = b if off is None else off
        if off - on >= min_burst:
            refined.append([on, off])
    return Detection(refined, 10 ** centre, 10 ** active, True, 10 ** on_level)


def _refine_cusum(coarse, n, p, power, baseline_var, cum, e_on, e_off, scale_on, scale_off,
                  before, after, ramp_before, ramp_after, min_burst):
    """Steps 4-6 for every burst: CUSUM change, start-of-rise fit, SNR blend, duration rule.

    Offsets depend only on the coarse bursts, so they are all fitted at once. An onset's
    search starts no earlier than the previous kept burst's offset: onsets are fitted at once
    assuming the previous burst is kept, and the rare onset after a dropped burst is fitted
    again with its true bound. The result is that of fitting the bursts one by one.
    """
    if not coarse:
        return []
    cap = p["cusum_cap"]
    burst_power = [(cum[b] - cum[a]) / max(b - a, 1) for a, b in coarse]
    mids = [(a + b) // 2 for a, b in coarse]
    # Offsets.
    off_spans, off_windows, off_ratios = [], [], []
    his = [min(coarse[i + 1][0] if i + 1 < len(coarse) else n, b + before) for i, (a, b) in enumerate(coarse)]
    off_vars = _local_vars(power, [(b, hi) for (a, b), hi in zip(coarse, his)], baseline_var)
    for i, (a, b) in enumerate(coarse):
        lo, hi = max(mids[i], b - after), his[i]
        var = off_vars[i]
        off_spans.append(hi)
        off_windows.append(e_off[lo:hi][::-1] / (var * scale_off))
        off_ratios.append(_design_ratio(burst_power[i] / var, p))
    ks = _cusum_starts(off_windows, off_ratios, cap)
    if p["ramp_fit"]:
        ks = _ramp_after_cusum(off_windows, ks, ramp_before, ramp_after)
    offs = [None if k is None else hi - k for k, hi in zip(ks, off_spans)]
    weights = [None] * len(coarse)
    if p["blend_db"] is not None:
        for i in range(len(coarse)):
            snr = 10.0 * np.log10(max(burst_power[i] / baseline_var, 1e-12))
            weights[i] = float(np.clip((snr - p["blend_db"] + 5.0) / 10.0, 0.0, 1.0))

    def onset_window(i, prev_end, var=None):
        a = coarse[i][0]
        lo, hi = max(prev_end, a - before), min(mids[i], a + after)
        var = _local_var(power, lo, a, baseline_var) if var is None else var
        return lo, e_on[lo:hi] / (var * scale_on), _design_ratio(burst_power[i] / var, p)

    def final(i, on, off):
        a, b = coarse[i]
        if weights[i] is not None and on is not None and off is not None:
            on = int(round(weights[i] * on + (1 - weights[i]) * a))
            off = int(round(weights[i] * off + (1 - weights[i]) * b))
        return (a if on is None else on), (b if off is None else off)

    # Onsets, assuming the previous burst is kept with an onset found (its offset bounds the search).
    assumed_prev = [0] + [final(i, 0, offs[i])[1] for i in range(len(coarse) - 1)]
    los, windows, ratios = [], [], []
    on_vars = _local_vars(power, [(max(prev, a - before), a) for prev, (a, b) in zip(assumed_prev, coarse)],
                          baseline_var)
    for i in range(len(coarse)):
        lo, z2, ratio = onset_window(i, assumed_prev[i], on_vars[i])
        los.append(lo)
        windows.append(z2)
        ratios.append(ratio)
    ks = _cusum_starts(windows, ratios, cap)
    if p["ramp_fit"]:
        ks = _ramp_after_cusum(windows, ks, ramp_before, ramp_after)
    refined = []
    for i in range(len(coarse)):
        prev_end = refined[-1][1] if refined else 0
        k = ks[i]
        lo = los[i]
        if prev_end != assumed_prev[i]:
            lo, z2, ratio = onset_window(i, prev_end)
            k = _cusum_start(z2, ratio, cap)
            if k is not None and p["ramp_fit"]:
                k = _ramp_start(z2, k, ramp_before, ramp_after)
        on = None if k is None else lo + k
        on, off = final(i, on, offs[i])
        if off - on >= min_burst:
            refined.append([on, off])
    return refined


def _ramp_after_cusum(windows, ks, before, after):
    """Start-of-rise fits for the windows whose CUSUM found a change (others keep None)."""
    todo = [i for i, k in enumerate(ks) if k is not None]
    fitted = _ramp_starts([windows[i] for i in todo], [ks[i] for i in todo], before, after)
    out = list(ks)
    for i, k in zip(todo, fitted):
        out[i] = k
    return out


def intervals_s(detection, t_s):
    """Detected intervals as [[on_s, off_s], ...] on the clock t_s."""
    n = len(t_s)
    return [[float(t_s[a]), float(t_s[min(b, n - 1)])] for a, b in detection.intervals]
