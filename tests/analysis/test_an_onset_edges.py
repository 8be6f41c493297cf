"""Edge timing in onset.py: no zero-phase ringing on the edge signals, start-of-rise fit, and the
detector's precision on simulated walking at high SNR (seeds not used by bench_onset)."""

import numpy as np

from myosim.emg import synthesize_trial
from myostride.analysis import emgproc, onset

FS = 2000.0


def _step_burst(rng, n, i0, i1, amp):
    """White rest noise (sd 1) plus a carrier switched on abruptly over [i0, i1)."""
    carrier = emgproc.bandpass(rng.standard_normal(n), FS, (50.0, 150.0))
    carrier /= carrier.std()
    x = rng.standard_normal(n)
    x[i0:i1] += amp * carrier[i0:i1]
    return emgproc.bandpass(x, FS)


def test_edge_energies_do_not_lead_onset_or_trail_offset():
    rng = np.random.default_rng(21)
    n, i0, i1 = 8000, 3000, 5000
    y = _step_burst(rng, n, i0, i1, amp=40.0)
    e_on, e_off = onset.edge_energies(y, FS, 40.0)
    before = slice(i0 - 40, i0 - 4)  # 20 ms to 2 ms ahead of the onset
    after = slice(i1 + 4, i1 + 40)
    rest = slice(500, 2500)
    # The zero-phase band-pass does ring ahead of the step (else this test proves nothing) ...
    assert np.mean(y[before] ** 2) > 3.0 * np.mean(y[rest] ** 2)
    # ... the causal copy does not; nor does the anti-causal one after the offset.
    assert np.mean(e_on[before]) < 2.0 * np.mean(e_on[rest])
    assert np.mean(e_off[after]) < 2.0 * np.mean(e_off[rest])


def test_ramp_start_recovers_a_smooth_start_the_cusum_places_late():
    rng = np.random.default_rng(22)
    t0, n = 300, 600
    t = np.arange(n)
    late, fitted = [], []
    for _ in range(40):
        rate = rng.uniform(20.0, 200.0) / 40.0 ** 2  # 20-200 rest sd 20 ms (40 samples) in
        sd = np.sqrt(1.0 + (rate * np.maximum(t - t0, 0) ** 2) ** 2)
        z2 = (sd * rng.standard_normal(n)) ** 2
        k = onset._cusum_start(z2, 4.0, 20.0)
        late.append(k - t0)
        fitted.append(onset._ramp_start(z2, k, 60, 40) - t0)
    assert np.median(late) >= 5  # the CUSUM needs the rise to clear the noise (2.5+ ms late)
    assert abs(np.median(fitted)) <= 2 and np.median(np.abs(fitted)) <= 3, fitted


def test_high_snr_walking_edges_within_a_few_ms():
    muscles = [("left", m) for m in ("tibialis_anterior", "soleus", "vastus_lateralis", "biceps_femoris")]
    sig, _ev, truth = synthesize_trial("normal", 10.0, seed=11, fs_hz=FS, snr_db=30, hum_hz=None, muscles=muscles)
    errors = []
    for key, x in sig.items():
        y = emgproc.condition(x, FS)
        det = onset.detect_bursts(y, FS)
        got = [[a / FS, b / FS] for a, b in det.intervals]
        for on, off in truth[key]:
            if on < 0.3 or off > 9.7:
                continue
            best = max(got, key=lambda g: min(off, g[1]) - max(on, g[0]))
            assert min(off, best[1]) > max(on, best[0]), "burst %s of %s missed" % ((on, off), key)
            errors += [best[0] - on, best[1] - off]
    errors_ms = np.abs(errors) * 1000.0
    assert len(errors_ms) > 40
    assert np.median(errors_ms) < 4.0, np.median(errors_ms)
