"""Fixed-point cascaded biquads for the node (viper, no allocation per sample).

Why this arithmetic: MCU viper ints are 32-bit, and a plain DF1 biquad with Q14
coefficients and 16-bit samples already needs 31 bits for a single product.
So every integer signal value v is split into hi = v >> 8 and lo = v & 255 and
the two partial sums are kept apart (each < 2^30, see design_filters.py for
the coefficient bounds). Each section also keeps the fractional part of its
output (error feedback, the remainder below the integer LSB in Q14) and feeds
it both back into its own recursion and forward into the next section, so the
cascade follows the exact recursion of the quantised coefficients to within
~1e-3 LSB; only the final output is rounded (half up) and saturated to int16.
That is what makes the firmware agree with scipy.signal.sosfilt (with the
same quantised coefficients) within 1 LSB; plain truncation would be amplified
by 1/A(z) (~250x at DC for a 20 Hz high-pass at 2 kHz).

State words are stored with a +2^28 bias so they are never negative: viper
ptr32 loads are zero-extended on 64-bit ports and sign-extension of a 32-bit
constant is not portable to 32-bit MCUs.
"""

import micropython
import struct
from micropython import const

import coeffs

_BIAS = const(0x10000000)
_SEC_STATE = const(8)  # x1 x2 ex1 ex2 y1 y2 e1 e2


@micropython.viper
def _run(cf, st, nsec: int, src, soff: int, dst, doff: int, n: int) -> int:
    """Filter n int16 samples src[soff:] -> dst[doff:] (byte offsets, may alias).

    Returns how many outputs saturated at the int16 limits.
    """
    c = ptr16(cf)
    s = ptr32(st)
    pi = ptr16(src)
    po = ptr16(dst)
    si = soff >> 1
    di = doff >> 1
    sat = 0
    i = 0
    while i < n:
        x0 = (pi[si + i] ^ 0x8000) - 0x8000
        ex0 = 0
        k = 0
        while k < nsec:
            cb = k * 5
            sb = k * 8
            b0 = (c[cb] ^ 0x8000) - 0x8000
            b1 = (c[cb + 1] ^ 0x8000) - 0x8000
            b2 = (c[cb + 2] ^ 0x8000) - 0x8000
            a1 = (c[cb + 3] ^ 0x8000) - 0x8000
            a2 = (c[cb + 4] ^ 0x8000) - 0x8000
            x1 = s[sb] - _BIAS
            x2 = s[sb + 1] - _BIAS
            ex1 = s[sb + 2]
            ex2 = s[sb + 3]
            y1 = s[sb + 4] - _BIAS
            y2 = s[sb + 5] - _BIAS
            e1 = s[sb + 6]
            e2 = s[sb + 7]
            hi = b0 * (x0 >> 8) + b1 * (x1 >> 8) + b2 * (x2 >> 8) - a1 * (y1 >> 8) - a2 * (y2 >> 8)
            lo = b0 * (x0 & 255) + b1 * (x1 & 255) + b2 * (x2 & 255) - a1 * (y1 & 255) - a2 * (y2 & 255)
            lo += (b0 * ex0 + b1 * ex1 + b2 * ex2) >> 14
            lo -= (a1 * e1 + a2 * e2) >> 14
            t = hi + (lo >> 8)
            y0 = t >> 6
            e0 = ((t & 63) << 8) | (lo & 255)
            s[sb + 1] = s[sb]
            s[sb] = x0 + _BIAS
            s[sb + 3] = ex1
            s[sb + 2] = ex0
            s[sb + 5] = s[sb + 4]
            s[sb + 4] = y0 + _BIAS
            s[sb + 7] = e1
            s[sb + 6] = e0
            x0 = y0
            ex0 = e0
            k += 1
        y = x0 + (ex0 >> 13)
        if y > 32767:
            y = 32767
            sat += 1
        elif y < -32768:
            y = -32768
            sat += 1
        po[di + i] = y
        i += 1
    return sat


class FilterChain:
    """High-pass (+ optional powerline notch) for one EMG channel at one rate."""

    def __init__(self, emg_hz, highpass_hz, highpass_order=2, powerline_hz=0):
        secs = []
        if highpass_hz:
            key = (emg_hz, highpass_hz, highpass_order)
            if key not in coeffs.HIGHPASS:
                raise ValueError("no high-pass design for %d Hz, %d Hz corner, order %d" % key)
            secs.extend(coeffs.HIGHPASS[key])
        if powerline_hz:
            key = (emg_hz, powerline_hz)
            if key not in coeffs.NOTCH:
                raise ValueError("no powerline notch for %d Hz at %d Hz" % key)
            secs.extend(coeffs.NOTCH[key])
        self.sections = len(secs) // 5
        self.coef = bytearray(2 * len(secs) + 2)
        for i, v in enumerate(secs):
            struct.pack_into("<h", self.coef, 2 * i, v)
        self.state = bytearray(4 * _SEC_STATE * self.sections + 4)
        self.reset()

    def reset(self):
        """Zero the filter memory (as scipy's sosfilt starts)."""
        for k in range(self.sections):
            b = 4 * _SEC_STATE * k
            for w, v in enumerate((_BIAS, _BIAS, 0, 0, _BIAS, _BIAS, 0, 0)):
                struct.pack_into("<I", self.state, b + 4 * w, v)

    def prime(self, x0):
        """Start in the steady state for a constant input x0 (scipy's sosfilt_zi * x0), so an
        electrode's DC offset does not ring through the high-pass when streaming begins."""
        x_q14 = x0 << 14  # section input, integer + Q14 fraction
        for k in range(self.sections):
            b0, b1, b2, a1, a2 = struct.unpack_from("<5h", self.coef, 10 * k)
            # DC gain of the section = sum(b) / (1 + a1 + a2)
            y_q14 = (x_q14 * (b0 + b1 + b2)) // ((1 << 14) + a1 + a2)
            x, ex = x_q14 >> 14, x_q14 & 0x3FFF
            y, e = y_q14 >> 14, y_q14 & 0x3FFF
            base = 4 * _SEC_STATE * k
            for w, v in enumerate((x + _BIAS, x + _BIAS, ex, ex, y + _BIAS, y + _BIAS, e, e)):
                struct.pack_into("<I", self.state, base + 4 * w, v)
            x_q14 = y_q14

    def run(self, src, soff, dst, doff, n):
        """Filter n samples (byte offsets); returns the number of saturated outputs."""
        if self.sections == 0:
            if src is not dst or soff != doff:
                _copy16(src, soff, dst, doff, n)
            return 0
        return _run(self.coef, self.state, self.sections, src, soff, dst, doff, n)


@micropython.viper
def _copy16(src, soff: int, dst, doff: int, n: int):
    p = ptr16(src)
    q = ptr16(dst)
    i = 0
    a = soff >> 1
    b = doff >> 1
    while i < n:
        q[b + i] = p[a + i]
        i += 1


@micropython.viper
def full_scale_count(buf, off: int, n: int) -> int:
    """Raw int16 codes at the converter's full scale (0x7FFF or 0x8000) in buf[off:off+2n].
    Counted as the main loop takes samples (not when the interrupt stores them), so which
    status frame reports clipping depends only on the samples, not on timing."""
    p = ptr16(buf)
    i = off >> 1
    end = i + n
    c = 0
    while i < end:
        v = p[i]
        if v == 0x7FFF or v == 0x8000:
            c += 1
        i += 1
    return c
