"""Firmware fixed-point filters vs scipy.signal.sosfilt, and their 31-bit headroom.

The same int16 input goes through firmware/filters.py under `micropython` and
through scipy's sosfilt with the *quantised* coefficients from firmware/coeffs.py;
they must agree within 1 LSB. A Python model of the integer recursion (checked
bit-exact against the firmware) proves no intermediate sum needs more than 31
bits on worst-case inputs for every shipped design, as 32-bit MCU viper needs.
"""

import sys

import numpy as np
import pytest
from scipy import signal

from upyharness import ROOT, run_upy

sys.path.insert(0, str(ROOT / "firmware"))
import coeffs  # noqa: E402

PATH = ["tests/firmware/upy", "firmware", "protocol"]
CLI = str(ROOT / "tests" / "firmware" / "upy" / "fwt_filter_cli.py")
TRANSIENT = 200


def sections(emg_hz, hp_hz, order, pl_hz):
    flat = []
    if hp_hz:
        flat += list(coeffs.HIGHPASS[(emg_hz, hp_hz, order)])
    if pl_hz:
        flat += list(coeffs.NOTCH[(emg_hz, pl_hz)])
    return [flat[i : i + 5] for i in range(0, len(flat), 5)]


def quantised_sos(secs):
    return np.array([[b0, b1, b2, 1 << coeffs.Q, a1, a2] for b0, b1, b2, a1, a2 in secs], float) / (1 << coeffs.Q)


def firmware_filter(tmp_path, x, emg_hz, hp_hz, order, pl_hz):
    src = tmp_path / "in.i16"
    dst = tmp_path / "out.i16"
    np.asarray(x, "<i2").tofile(src)
    p = run_upy([CLI, str(emg_hz), str(hp_hz), str(order), str(pl_hz), str(src), str(dst)], path=PATH, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return np.fromfile(dst, "<i2").astype(np.int64), int(p.stdout.split()[-1])


def emg_like(n, fs, seed, hum_hz=50):
    """Noise bursts + electrode DC offset + motion artefact + powerline hum, inside int16."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    burst = (np.sin(2 * np.pi * 1.0 * t) > 0.3).astype(float)
    x = 3000 * rng.standard_normal(n) * (0.1 + burst)
    x += 4000 + 2500 * np.sin(2 * np.pi * 1.5 * t) + 800 * np.sin(2 * np.pi * hum_hz * t)
    return np.clip(np.round(x), -20000, 20000).astype(np.int16)


CASES = [(2000, 20, 2, 0), (2000, 20, 4, 50), (1926, 10, 4, 60), (1000, 15, 2, 50), (2000, 12, 2, 60)]


@pytest.mark.parametrize("emg_hz,hp_hz,order,pl_hz", CASES)
def test_firmware_filter_matches_scipy_within_1_lsb(tmp_path, emg_hz, hp_hz, order, pl_hz):
    x = emg_like(3 * emg_hz, emg_hz, seed=emg_hz + hp_hz, hum_hz=pl_hz or 50)
    y, sat = firmware_filter(tmp_path, x, emg_hz, hp_hz, order, pl_hz)
    ref = signal.sosfilt(quantised_sos(sections(emg_hz, hp_hz, order, pl_hz)), x.astype(float))
    assert np.abs(ref).max() < 32767, "test input must not saturate"
    err = np.abs(y - np.floor(ref + 0.5))
    assert sat == 0
    assert err[TRANSIENT:].max() <= 1, "max error %d LSB" % err[TRANSIENT:].max()
    assert err.mean() < 0.05, err.mean()  # rounding ties only, not a systematic error
    # and the filter really filters: DC and drift gone, hum gone when the notch is on
    assert abs(y[emg_hz:].mean()) < 0.02 * abs(x.mean())
    if pl_hz:
        f, p = signal.welch(y[emg_hz:], fs=emg_hz, nperseg=1024)
        fx, px = signal.welch(x[emg_hz:].astype(float), fs=emg_hz, nperseg=1024)
        i = np.argmin(abs(f - pl_hz))
        assert p[i] < 0.05 * px[i]


def test_primed_filter_starts_without_a_transient(tmp_path):
    """prime(x0) = scipy's sosfilt_zi * x0: a 5 mV electrode offset does not ring."""
    script = tmp_path / "prime.py"
    script.write_text(
        "import struct\nfrom filters import FilterChain\n"
        "f = FilterChain(2000, 20, 4, 50)\nf.prime(-6000)\n"
        "x = bytearray(open(%r, 'rb').read())\ny = bytearray(len(x))\n"
        "f.run(x, 0, y, 0, len(x) // 2)\nopen(%r, 'wb').write(y)\n" % (str(tmp_path / "x"), str(tmp_path / "y"))
    )
    x = (emg_like(4000, 2000, seed=9) // 8).astype(np.int64) - 6000
    x[0] = -6000
    np.asarray(x, "<i2").tofile(tmp_path / "x")
    p = run_upy([str(script)], path=PATH, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    y = np.fromfile(tmp_path / "y", "<i2").astype(np.int64)
    sos = quantised_sos(sections(2000, 20, 4, 50))
    ref = np.floor(signal.sosfilt(sos, x.astype(float), zi=signal.sosfilt_zi(sos) * x[0])[0] + 0.5)
    assert np.abs(y - ref).max() <= 1  # from the very first sample
    unprimed = signal.sosfilt(sos, x.astype(float))
    assert np.abs(unprimed[:50]).max() > 1000  # what priming avoids


def test_saturation_is_clamped_and_counted(tmp_path):
    x = np.zeros(4000, np.int16)
    x[1000:] = 32767
    x[2000:] = -32768  # a full-scale swing: the high-pass output wants -65535
    y, sat = firmware_filter(tmp_path, x, 2000, 20, 4, 0)
    assert sat > 0
    assert y.min() == -32768 and y.max() <= 32767


# ---------------------------------------------------------------- headroom model

def model_run(secs, x):
    """The firmware's integer recursion (filters._run) in Python; returns outputs and the
    largest magnitude any intermediate reached."""
    st = [[0] * 8 for _ in secs]
    worst = 0
    out = []
    for v in x:
        x0, ex0 = int(v), 0
        for (b0, b1, b2, a1, a2), s in zip(secs, st):
            x1, x2, ex1, ex2, y1, y2, e1, e2 = s
            terms_hi = (b0 * (x0 >> 8), b1 * (x1 >> 8), b2 * (x2 >> 8), -a1 * (y1 >> 8), -a2 * (y2 >> 8))
            terms_lo = (b0 * (x0 & 255), b1 * (x1 & 255), b2 * (x2 & 255), -a1 * (y1 & 255), -a2 * (y2 & 255))
            fb = b0 * ex0 + b1 * ex1 + b2 * ex2
            fa = a1 * e1 + a2 * e2
            hi = 0
            for t in terms_hi:
                hi += t
                worst = max(worst, abs(hi))
            lo = 0
            for t in terms_lo:
                lo += t
                worst = max(worst, abs(lo))
            worst = max(worst, abs(b0 * ex0), abs(b0 * ex0 + b1 * ex1), abs(fb), abs(a1 * e1), abs(fa))
            lo += fb >> 14
            worst = max(worst, abs(lo))
            lo -= fa >> 14
            worst = max(worst, abs(lo))
            t = hi + (lo >> 8)
            worst = max(worst, abs(t), abs(x0), abs(x1), abs(y1))
            y0 = t >> 6
            e0 = ((t & 63) << 8) | (lo & 255)
            s[:] = [x0, x1, ex0, ex1, y0, y1, e0, e1]
            x0, ex0 = y0, e0
        out.append(min(32767, max(-32768, x0 + (ex0 >> 13))))
    return np.array(out), worst


def worst_case_input(fs):
    """Full-scale steps, square waves near the corners and the notch, Nyquist alternation."""
    parts = [np.full(200, 32767), np.full(200, -32768), np.full(100, 32767)]
    for f in (15.0, 50.0, 60.0, fs / 4):
        n = int(3 * fs / f) if f < fs / 4 else 200
        t = np.arange(n)
        parts.append(np.where(np.sin(2 * np.pi * f * t / fs) >= 0, 32767, -32768))
    parts.append(np.tile([32767, -32768], 100))
    return np.concatenate(parts).astype(np.int64)


def test_model_is_bit_exact_with_firmware(tmp_path):
    x = emg_like(1500, 2000, seed=5).astype(np.int64)
    y, _ = firmware_filter(tmp_path, x, 2000, 20, 4, 50)
    ym, _ = model_run(sections(2000, 20, 4, 50), x)
    assert np.array_equal(y, ym)


def test_every_design_stays_within_31_bits():
    worst_all = 0
    for (fs, fc, order), flat in sorted(coeffs.HIGHPASS.items()):
        if fc not in (10, 15, 20):  # corners in between are the same shape; keep the run short
            continue
        for pl in (0, 50, 60):
            secs = sections(fs, fc, order, pl)
            _, worst = model_run(secs, worst_case_input(fs)[:: 1 if fs == 1000 else 2])
            worst_all = max(worst_all, worst)
            assert worst < 2**31, (fs, fc, order, pl, worst)
    assert worst_all > 2**24  # the check exercised large values


def test_coefficients_file_is_current():
    p = run_design("--check")
    assert p.returncode == 0, p.stdout + p.stderr


def run_design(*args):
    import subprocess

    return subprocess.run(
        [sys.executable, str(ROOT / "firmware" / "tools" / "design_filters.py"), *args], capture_output=True, text=True
    )
