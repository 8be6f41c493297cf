"""The batched edge refinement gives exactly the one-edge-at-a-time results.

`detect_bursts` fits all of a channel's offsets, then all onsets, in stacked array operations;
the scalar `_cusum_start` / `_ramp_start` are the reference. Any difference, even one sample on
one edge, fails.
"""

import numpy as np

from myostride.analysis import onset


def _random_edges(rng, count):
    """Windows like the detector's: rest-level energy (chi-square 1), then a rise of random shape."""
    windows, ratios = [], []
    for _ in range(count):
        n = int(rng.integers(0, 160))
        z2 = rng.chisquare(1, n)
        if n > 10:
            k0 = int(rng.integers(0, n))
            ramp = (np.maximum(np.arange(n) - k0, 0) * rng.uniform(0.01, 0.5)) ** 2
            z2 = z2 * (1.0 + ramp)
        windows.append(z2)
        ratios.append(float(rng.uniform(1.5, 30.0)))
    return windows, ratios


def test_batched_cusum_and_ramp_equal_the_scalar_fits():
    rng = np.random.default_rng(7)
    windows, ratios = _random_edges(rng, 600)
    ks = onset._cusum_starts(windows, ratios, 20.0)
    assert ks == [onset._cusum_start(w, r, 20.0) for w, r in zip(windows, ratios)]
    todo = [i for i, k in enumerate(ks) if k is not None]
    fitted = onset._ramp_starts([windows[i] for i in todo], [ks[i] for i in todo], 60, 40, chunk=37)
    assert fitted == [onset._ramp_start(windows[i], ks[i], 60, 40) for i in todo]


def _one_by_one(coarse, n, p, power, baseline_var, cum, e_on, e_off, scale_on, scale_off,
                before, after, ramp_before, ramp_after, min_burst):
    """The per-burst loop `_refine_cusum` replaces (kept here as the reference)."""
    refined = []
    for i, (a, b) in enumerate(coarse):
        prev_end = refined[-1][1] if refined else 0
        next_start = coarse[i + 1][0] if i + 1 < len(coarse) else n
        mid = (a + b) // 2
        burst_power = (cum[b] - cum[a]) / max(b - a, 1)
        lo, hi = max(prev_end, a - before), min(mid, a + after)
        var = onset._local_var(power, lo, a, baseline_var)
        z2 = e_on[lo:hi] / (var * scale_on)
        k = onset._cusum_start(z2, onset._design_ratio(burst_power / var, p), p["cusum_cap"])
        if k is not None and p["ramp_fit"]:
            k = onset._ramp_start(z2, k, ramp_before, ramp_after)
        on = None if k is None else lo + k
        lo, hi = max(mid, b - after), min(next_start, b + before)
        var = onset._local_var(power, b, hi, baseline_var)
        z2 = e_off[lo:hi][::-1] / (var * scale_off)
        k = onset._cusum_start(z2, onset._design_ratio(burst_power / var, p), p["cusum_cap"])
        if k is not None and p["ramp_fit"]:
            k = onset._ramp_start(z2, k, ramp_before, ramp_after)
        off = None if k is None else hi - k
        if p["blend_db"] is not None and on is not None and off is not None:
            snr = 10.0 * np.log10(max(burst_power / baseline_var, 1e-12))
            w = float(np.clip((snr - p["blend_db"] + 5.0) / 10.0, 0.0, 1.0))
            on = int(round(w * on + (1 - w) * a))
            off = int(round(w * off + (1 - w) * b))
        on = a if on is None else on
        off = b if off is None else off
        if off - on >= min_burst:
            refined.append([on, off])
    return refined


def test_refinement_equals_the_burst_by_burst_loop_including_dropped_bursts():
    rng = np.random.default_rng(11)
    fs = 2000.0
    n = 40000
    x = rng.normal(0, 1, n)
    coarse = []
    a = 500
    while a < n - 800:  # bursts of every length, some too short to keep, some close together
        length = int(rng.integers(20, 700))
        x[a:a + length] *= rng.uniform(1.2, 40.0)
        coarse.append([a, a + length])
        a += length + int(rng.integers(30, 900))
    p = dict(onset.DEFAULTS)
    energy = x * x
    power = onset.moving_mean(energy, 100)
    cum = np.concatenate(([0.0], np.cumsum(energy)))
    e_on, e_off = onset.edge_energies(x, fs, p["edge_highpass_hz"])
    args = (coarse, n, p, power, 1.0, cum, e_on, e_off, 0.9, 0.9, 200, 80, 60, 40, 200)
    expected = _one_by_one(*args)
    assert len(expected) < len(coarse)  # some bursts were dropped: the re-fit path ran
    assert onset._refine_cusum(*args) == expected
