"""Node clock -> host clock model from two-way time-sync exchanges.

One exchange: the host sends C_SYNC at t1 (host us), the node receives it at
t2 and answers at t3 (node us), the host receives the reply at t4 (host us).
With symmetric radio delays, node instant (t2 + t3) / 2 happened at host
instant (t1 + t4) / 2; the error is half the delay asymmetry, which is
bounded by half the round trip (t4 - t1) - (t3 - t2). So we

1. keep the lowest-round-trip exchanges (a few per time bin: NTP/LSL style),
2. fit host - node (the offset, in us) as a smooth function of node time by
   local, Gaussian-weighted linear regressions (offset + skew per window,
   so slow drift wander is followed), rejecting residual outliers by MAD,
3. store that function as knots and interpolate it at every sample.

The offline fit (whole session, past and future exchanges) is what sessions
use; the same function on a recent window serves the live display.
"""

import numpy as np

EXCHANGE_FIELDS = ("t1_us", "t2_us", "t3_us", "t4_us")


def exchange_array(exchanges):
    """(n, 4) int64 array [t1, t2, t3, t4] from an iterable of 4-sequences."""
    arr = np.asarray(list(exchanges), dtype=np.int64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError("time-sync exchanges must be (t1, t2, t3, t4) rows, got shape %s" % (arr.shape,))
    return arr


def round_trip_us(ex):
    """Radio round trip of each exchange: host elapsed minus node turnaround."""
    return (ex[:, 3] - ex[:, 0]) - (ex[:, 2] - ex[:, 1])


def select_exchanges(ex, bin_s=2.0, keep_per_bin=3):
    """Mask of usable exchanges: causal ones, the lowest round trips per bin of host time."""
    n = len(ex)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    rtt = round_trip_us(ex)
    valid = (rtt >= 0) & (ex[:, 2] >= ex[:, 1]) & (ex[:, 3] >= ex[:, 0])
    bins = ((ex[:, 0] - ex[0, 0]) // int(bin_s * 1e6)).astype(np.int64)
    order = np.lexsort((rtt, bins))  # by bin, then round trip
    counts = {}
    for i in order:
        if not valid[i]:
            continue
        b = bins[i]
        c = counts.get(b, 0)
        if c < keep_per_bin:
            keep[i] = True
            counts[b] = c + 1
    return keep


class ClockFit:
    """Piecewise-linear host-minus-node offset over node time.

    knots_node_us: int64 node times; offset_us: float64 host - node at them.
    host_us(node) = node + offset(node), offset interpolated linearly and
    extrapolated along the first / last segment.
    """

    def __init__(self, knots_node_us, offset_us, stats=None):
        self.knots_node_us = np.asarray(knots_node_us, dtype=np.int64)
        self.offset_us = np.asarray(offset_us, dtype=np.float64)
        if len(self.knots_node_us) == 0:
            raise ValueError("a clock fit needs at least one knot")
        self.stats = stats or {}

    def offset_at(self, node_us):
        x = np.asarray(node_us)
        k = self.knots_node_us
        o = self.offset_us
        if len(k) == 1:
            return np.full(x.shape, o[0], dtype=np.float64)
        if x.dtype.kind in "iu":
            rel = (x.astype(np.int64) - k[0]).astype(np.float64)
        else:
            rel = x.astype(np.float64) - float(k[0])
        kr = (k - k[0]).astype(np.float64)
        y = np.interp(rel, kr, o)
        lo = rel < kr[0]
        hi = rel > kr[-1]
        if np.any(lo):
            s = (o[1] - o[0]) / (kr[1] - kr[0])
            y[lo] = o[0] + s * (rel[lo] - kr[0])
        if np.any(hi):
            s = (o[-1] - o[-2]) / (kr[-1] - kr[-2])
            y[hi] = o[-1] + s * (rel[hi] - kr[-1])
        return y

    def host_us(self, node_us):
        """Host-clock microseconds (float64) of node-clock instants (int or float us)."""
        x = np.asarray(node_us)
        return x.astype(np.float64) + self.offset_at(x)

    def skew_ppm(self):
        """Mean rate difference host vs node over the fit, ppm (node fast -> negative)."""
        k = self.knots_node_us
        if len(k) < 2:
            return 0.0
        return float((self.offset_us[-1] - self.offset_us[0]) / (k[-1] - k[0]) * 1e6)

    def to_json(self):
        return {
            "knots_node_us": [int(v) for v in self.knots_node_us],
            "offset_us": [round(float(v), 3) for v in self.offset_us],
            "skew_ppm": round(self.skew_ppm(), 3),
            "stats": self.stats,
        }

    @classmethod
    def from_json(cls, d):
        return cls(d["knots_node_us"], d["offset_us"], d.get("stats"))


def fit_clock(exchanges, knot_step_s=1.0, window_s=6.0, bin_s=2.0, keep_per_bin=3, reject_k=4.0, min_scale_us=10.0, prior_skew_ppm=200.0):
    """Fit a ClockFit from exchanges (rows t1, t2, t3, t4).

    window_s is the Gaussian sigma of the local regressions (seconds of node
    time); each knot's fit drops exchanges whose residual exceeds reject_k
    robust standard deviations (MAD, floored at min_scale_us) and refits.
    The local skew has a ridge prior of prior_skew_ppm (crystals stay within
    a few hundred ppm), so a few noisy exchanges in a short recording cannot
    tilt the line absurdly; with many exchanges the data dominate.
    Raises ValueError when no usable exchange exists.
    """
    ex = exchange_array(exchanges)
    keep = select_exchanges(ex, bin_s, keep_per_bin)
    sel = ex[keep]
    if len(sel) == 0:
        raise ValueError("no usable time-sync exchange (need t4 >= t1 and t3 >= t2)")
    node_mid = sel[:, 1] + (sel[:, 2] - sel[:, 1]) // 2
    r = (sel[:, 0] + sel[:, 3]) / 2.0 - node_mid.astype(np.float64)  # host - node, us
    rtt = round_trip_us(sel)
    order = np.argsort(node_mid)
    node_mid, r, rtt = node_mid[order], r[order], rtt[order]
    base = node_mid[0]
    x = (node_mid - base) / 1e6  # seconds since first exchange (node clock)
    if len(sel) == 1:
        return ClockFit([node_mid[0]], [r[0]], {"exchanges": int(len(ex)), "used": 1, "rtt_median_us": float(rtt[0])})
    span = x[-1]
    nk = max(2, int(np.ceil(span / knot_step_s)) + 1)
    knots = np.linspace(0.0, span, nk)
    w = _local_weights(knots, x, window_s)
    # Error of one exchange is at most half its round trip; a quarter is a typical spread.
    noise_us = max(float(np.median(rtt)) / 4.0, min_scale_us)
    ridge = (noise_us / prior_skew_ppm) ** 2  # in s^2: slope in us/s == ppm
    a, b = _weighted_lines(knots, x, r, w, ridge)
    for _ in range(2):
        resid = r[None, :] - (a[:, None] + b[:, None] * (x[None, :] - knots[:, None]))
        scale = _weighted_mad(resid, w)
        scale = np.maximum(scale, min_scale_us)
        w = np.where(np.abs(resid) <= reject_k * scale[:, None], w, 0.0)
        a, b = _weighted_lines(knots, x, r, w, ridge)
    resid_here = r - np.interp(x, knots, a)
    stats = {
        "exchanges": int(len(ex)),
        "used": int(len(sel)),
        "rtt_median_us": float(np.median(rtt)),
        "rtt_min_us": float(rtt.min()),
        "residual_rms_us": float(np.sqrt(np.mean(resid_here ** 2))),
    }
    knots_us = base + np.round(knots * 1e6).astype(np.int64)
    return ClockFit(knots_us, a, stats)


def _local_weights(knots, x, sigma):
    d = (x[None, :] - knots[:, None]) / sigma
    w = np.exp(-0.5 * d * d)
    w[np.abs(d) > 4.0] = 0.0
    return w


def _weighted_lines(knots, x, y, w, ridge=0.0):
    """Per knot, weighted least-squares line y = a + b (x - knot), ridge penalty on b."""
    dx = x[None, :] - knots[:, None]
    s0 = w.sum(axis=1)
    s1 = (w * dx).sum(axis=1)
    s2 = (w * dx * dx).sum(axis=1) + ridge
    sy = (w * y[None, :]).sum(axis=1)
    sxy = (w * dx * y[None, :]).sum(axis=1)
    det = s0 * s2 - s1 * s1
    ok = (det > 1e-12 * np.maximum(s0 * s2, 1e-300)) & (s0 > 0)
    a = np.empty(len(knots))
    b = np.zeros(len(knots))
    a[ok] = (s2[ok] * sy[ok] - s1[ok] * sxy[ok]) / det[ok]
    b[ok] = (s0[ok] * sxy[ok] - s1[ok] * sy[ok]) / det[ok]
    bad = ~ok
    if np.any(bad):
        # Too few exchanges near this knot: the nearest exchange's offset.
        idx = np.searchsorted(x, knots[bad]).clip(0, len(x) - 1)
        a[bad] = y[idx]
    return a, b


def _weighted_mad(resid, w):
    """Robust scale (1.4826 * weighted median |residual|) per row."""
    out = np.empty(resid.shape[0])
    absr = np.abs(resid)
    for i in range(resid.shape[0]):
        m = w[i] > 1e-6
        if not np.any(m):
            out[i] = np.inf
            continue
        out[i] = 1.4826 * np.median(absr[i, m])
    return out


class OnlineClock:
    """Recent-window clock estimate for the live display (and a sanity check while recording)."""

    def __init__(self, window_s=30.0):
        self.window_us = int(window_s * 1e6)
        self.rows = []
        self.fit = None

    def add(self, t1, t2, t3, t4):
        self.rows.append((int(t1), int(t2), int(t3), int(t4)))
        cutoff = t4 - self.window_us
        while self.rows and self.rows[0][3] < cutoff:
            self.rows.pop(0)

    def refit(self):
        """Refit on the window; returns the ClockFit or None without exchanges."""
        if not self.rows:
            return None
        try:
            self.fit = fit_clock(self.rows)
        except ValueError:
            self.fit = None
        return self.fit

    def rtt_median_us(self):
        if not self.rows:
            return None
        return float(np.median(round_trip_us(exchange_array(self.rows))))
