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

Connection-event lattice (method "lattice", used when it can be found).
Over BLE the midpoint assumption is badly wrong: the host's write waits for
the link's next connection event (0..interval), the node's reply for the one
after, so the midpoint is off by about half the connection interval (up to
25 ms at 50 ms), differently per node. But every notification reaches the
host at a connection event plus a latency >= L0, so the arrival times of a
node's notifications reveal its events' period (a multiple of 1.25 ms) and
phase on the host clock. The write of exchange i was delivered at one of
those events, so t2_i (+ a small node delay) *is* that event: offset_i =
event_host_time - t2_i, accurate to the node's receive delay. A common
latency L0 (the host stack's, the same for every node on one adapter)
remains in the absolute time, not in the alignment between nodes.
"""

import numpy as np
from scipy.stats import theilslopes

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
        x0 = np.asarray(node_us)
        x = np.atleast_1d(x0)
        y = self._offset_1d(x)
        return y.reshape(x0.shape) if x0.ndim == 0 else y

    def _offset_1d(self, x):
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


def fit_clock(exchanges, knot_step_s=1.0, window_s=15.0, bin_s=2.0, keep_per_bin=3, reject_k=4.0, min_scale_us=10.0, prior_skew_ppm=200.0,
              method="auto", arrivals_us=None, segments_us=None, lattice_drift_us_per_s=None):
    """Fit a ClockFit from exchanges (rows t1, t2, t3, t4).

    window_s is the Gaussian sigma of the local regressions (seconds of node
    time); each knot's fit drops exchanges whose residual exceeds reject_k
    robust standard deviations (MAD, floored at min_scale_us) and refits.
    The local skew has a ridge prior of prior_skew_ppm (crystals stay within
    a few hundred ppm), so a few noisy exchanges in a short recording cannot
    tilt the line absurdly; with many exchanges the data dominate.
    method: "midpoint" (NTP/LSL style), "lattice" (connection events found in
    arrivals_us, the host receive times of the node's notifications, split
    by segments_us = [(start_us, end_us)] connections), or "auto" (lattice
    when arrivals are given and a lattice is found, else midpoint).
    lattice_drift_us_per_s: the drift of the connection events against the host
    clock shared by every node on the adapter (`common_lattice_drift`); used for
    this node's phase line unless its own arrivals clearly disagree.
    Raises ValueError when no usable exchange exists.
    """
    ex = exchange_array(exchanges)
    used_method = "midpoint"
    if method in ("auto", "lattice") and arrivals_us is not None and len(ex):
        lat = lattice_offsets(ex, arrivals_us, segments_us, drift_us_per_s=lattice_drift_us_per_s)
        ok = ~np.isnan(lat["offset_us"])
        if ok.sum() >= 3:
            used_method = "lattice"
    if method == "lattice" and used_method != "lattice":
        raise ValueError("no connection-event lattice found in the arrival times")
    if used_method == "lattice":
        sel = ex[ok]
        node_t = sel[:, 1]
        r_all = lat["offset_us"][ok]
        keep = _upper_envelope(sel[:, 0], node_t, r_all, bin_s / 2.0, keep_per_bin, lat["interval_us"][ok])
        sel = sel[keep]
        node_mid = node_t[keep]
        r = r_all[keep]
        rtt = round_trip_us(sel)
    else:
        keep = select_exchanges(ex, bin_s, keep_per_bin)
        sel = ex[keep]
        if len(sel) == 0:
            raise ValueError("no usable time-sync exchange (need t4 >= t1 and t3 >= t2)")
        node_mid = sel[:, 1] + (sel[:, 2] - sel[:, 1]) // 2
        r = (sel[:, 0] + sel[:, 3]) / 2.0 - node_mid.astype(np.float64)  # host - node, us
        rtt = round_trip_us(sel)
    order = np.argsort(node_mid)
    node_mid, r, rtt = node_mid[order], r[order], rtt[order]
    if used_method == "lattice" and len(r) >= 5:
        # Gross outliers (a node starved for milliseconds before it stamped t2; few
        # exchanges near the end of a loaded run) would seed the first least-squares
        # lines below with a tilt that MAD rejection then keeps: drop them against a
        # running median first (it follows drift wander, and is not moved by them).
        dev = r - _running_median(node_mid / 1e6, r, 5.0)
        mad = 1.4826 * float(np.median(np.abs(dev)))
        sane = np.abs(dev) <= max(5.0 * mad, 200.0)
        if sane.sum() >= 2:
            node_mid, r, rtt, sel = node_mid[sane], r[sane], rtt[sane], sel[order][sane]
    base = node_mid[0]
    x = (node_mid - base) / 1e6  # seconds since first exchange (node clock)
    if len(sel) == 1:
        return ClockFit([node_mid[0]], [r[0]], {"exchanges": int(len(ex)), "used": 1, "rtt_median_us": float(rtt[0]), "method": used_method})
    span = x[-1]
    nk = max(2, int(np.ceil(span / knot_step_s)) + 1)
    knots = np.linspace(0.0, span, nk)
    w = _local_weights(knots, x, window_s)
    # Error of one exchange is at most half its round trip; a quarter is a typical spread.
    if used_method == "lattice":
        noise_us = max(float(np.median(np.abs(r - np.median(r)))) if len(r) > 2 else 100.0, 50.0)
        noise_us = min(noise_us, 500.0)
    else:
        noise_us = max(float(np.median(rtt)) / 4.0, min_scale_us)
    ridge = (noise_us / prior_skew_ppm) ** 2  # in s^2: slope in us/s == ppm
    a, b = _weighted_lines(knots, x, r, w, ridge)
    for _ in range(2):
        resid = r[None, :] - (a[:, None] + b[:, None] * (x[None, :] - knots[:, None]))
        scale = _weighted_mad(resid, w)
        scale = np.maximum(scale, min_scale_us)
        w = np.where(np.abs(resid) <= reject_k * scale[:, None], w, 0.0)
        a, b = _weighted_lines(knots, x, r, w, ridge)
    if used_method == "lattice":
        shift = _envelope_shift_us(ex[ok][:, 1], r_all, base, knots, a, lat["interval_us"][ok])
        a = a + shift
    resid_here = r - np.interp(x, knots, a)
    stats = {
        "exchanges": int(len(ex)),
        "used": int(len(sel)),
        "rtt_median_us": float(np.median(rtt)),
        "rtt_min_us": float(rtt.min()),
        "residual_rms_us": float(np.sqrt(np.mean(resid_here ** 2))),
        "method": used_method,
    }
    if used_method == "lattice":
        segs = [g for g in lat["segments"] if g.get("edge_scatter_us") is not None]
        if segs:
            stats["lattice_edge_scatter_us"] = round(max(g["edge_scatter_us"] for g in segs), 1)
            stats["lattice_groups_used"] = int(sum(g["groups_used"] for g in segs))
            stats["lattice_drift_us_per_s"] = [round(g["drift_us_per_s"], 3) for g in segs]
            stats["lattice_drift_from"] = sorted({g["drift_from"] for g in segs})
        stats["envelope_shift_us"] = round(float(shift), 1)
        stats["intervals_ms"] = sorted({round(float(v) / 1000.0, 3) for v in lat["interval_us"] if v > 0})
    knots_us = base + np.round(knots * 1e6).astype(np.int64)
    return ClockFit(knots_us, a, stats)


def _upper_envelope(t1, node_t, r, bin_s, keep_per_bin, period_us=None):
    """Mask: per bin of host time, the keep_per_bin highest offsets after removing the trend.

    A lattice offset is event_time - t2 and t2 lags the event by the node's
    receive delay (>= 0), so the true offset is at the top of the scatter."""
    n = len(r)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    x = (node_t - node_t[0]) / 1e6
    if n >= 3 and x[-1] - x[0] > 1.0:
        b, a = np.polyfit(x, r, 1)
        z = r - (a + b * x)
    else:
        z = r - np.median(r)
    # values far above the bulk are not low-delay exchanges but mistakes
    # (e.g. a write dated to the wrong connection event): drop them first
    # and values far below by a sizeable part of an interval are writes dated
    # to the wrong connection event (few exchanges nearby to anchor them)
    med = np.median(z)
    mad = max(1.4826 * np.median(np.abs(z - med)), 20.0)
    sane = z <= med + 4.0 * mad
    if period_us is not None:
        sane &= z >= med - np.maximum(4.0 * mad, 0.4 * np.asarray(period_us, dtype=np.float64))
    bins = ((t1 - t1[0]) // int(bin_s * 1e6)).astype(np.int64)
    order = np.lexsort((-z, bins))
    counts = {}
    for i in order:
        if not sane[i]:
            continue
        c = counts.get(bins[i], 0)
        if c < keep_per_bin:
            keep[i] = True
            counts[bins[i]] = c + 1
    return keep


ENVELOPE_PERCENTILES = (85.0, 90.0, 95.0)
EDGE_PERCENTILES = (0.5, 1.0, 2.0)  # of the first arrivals' latencies: the lattice's level
# The common drift is used unless it lies further from the node's own than twice the half-width of
# its own 95 % interval plus this: the interval is only indicative (the group percentiles are not
# independent), and another adapter differs by whole ppm, which a long recording resolves.
DRIFT_MARGIN_US_PER_S = 0.5


def _envelope_shift_us(node_t, r_all, base, knots, a, period_us):
    """Shift that puts the fitted offset curve at the upper envelope of *all* the lattice
    offsets, not only of the few per bin the regression saw.

    An offset is event - t2, low by the node's receive delay, so the truth is the top of
    the scatter. The regression's level sits among the top few per bin, a sample of a
    dozen that wanders by ~10 us from node to node; the mean of a few high percentiles
    of all the offsets about the curve (hundreds per node) is a steadier estimate of the
    same receive-delay floor, so it cancels better between nodes. Offsets far above the
    bulk (a write dated to the wrong event) are left out first."""
    x = (np.asarray(node_t, dtype=np.float64) - base) / 1e6
    z = np.asarray(r_all, dtype=np.float64) - np.interp(x, knots, a)
    if len(z) < 20:
        return 0.0
    med = float(np.median(z))
    mad = max(1.4826 * float(np.median(np.abs(z - med))), 20.0)
    sane = (z <= med + 4.0 * mad) & (z >= med - np.maximum(4.0 * mad, 0.4 * np.asarray(period_us, dtype=np.float64)))
    if sane.sum() < 20:
        return 0.0
    return float(np.mean(np.percentile(z[sane], ENVELOPE_PERCENTILES)))


def estimate_lattice(arrival_us, grid_us=1250, n_min=6, n_max=80, min_deliveries=12):
    """Connection-event lattice from notification arrival times (host us).

    Returns (interval_us, phase_us) with events at phase_us + m * interval_us
    (plus the host's fixed latency), or None when the arrivals show none.
    The interval is the longest candidate (multiple of grid_us) on which the
    arrivals line up; the phase is the early edge of their scatter.
    """
    t = np.unique(np.asarray(arrival_us, dtype=np.int64))
    if len(t) < min_deliveries:
        return None
    base = t[0]
    tf = (t - base).astype(np.float64)
    ns = np.arange(n_min, n_max + 1)
    periods = ns * float(grid_us)
    ph = 2 * np.pi * (tf[None, :] % periods[:, None]) / periods[:, None]
    coh = np.abs(np.exp(1j * ph).mean(axis=1))
    best = coh.max()
    # 0.7: a busy host's latency tail lowers a true lattice's coherence (0.6 seen
    # at a 7.5 ms interval, load average 24: the midpoint fallback then, flagged
    # unsure), but at 0.64 a 50 ms lattice showed more coherence at 25 ms than at
    # 50 and a wrong lattice is worse than the midpoint (4-29 ms off vs 14 ms).
    if best < 0.7:
        return None
    good = np.nonzero(coh >= 0.9 * best)[0]
    k = good[-1]
    period = periods[k]
    return float(period), float(base + _density_edge(tf, period))


def _density_edge(tf, period, bin_us=50.0, rise=0.1):
    """Phase (mod period) where the arrivals' density rises: the edge of their pile.

    Arrivals pile up just after each event (latency plus a one-sided jitter);
    a late arrival (busy host) can land anywhere in the period, alone. So the
    edge is where the smoothed phase histogram, walked down from its peak,
    falls below `rise` of the peak: a percentile of all arrivals would be
    dragged early by the 1-3 % of them a busy host delays by most of a period.
    """
    nb = max(16, int(period // bin_us))
    hist, edges = np.histogram(tf % period, bins=nb, range=(0.0, period))
    smooth = hist + np.roll(hist, 1) + np.roll(hist, -1)
    k = int(np.argmax(smooth))
    thr = rise * smooth[k]
    j = k
    for _ in range(nb - 1):
        if smooth[(j - 1) % nb] < thr:
            break
        j -= 1
    return float(edges[j % nb])


def lattice_offsets(ex, arrivals_us, segments_us=None, coarse_s=2.0, tol_us=500.0, bin_s=2.0, drift_us_per_s=None):
    """Per exchange: host-minus-node offset from the connection-event lattice (NaN if unknown).

    ex: (n, 4) exchanges; arrivals_us: host receive times of the node's
    notifications; segments_us: [(start, end)] host-time spans of single
    connections (the lattice changes at a reconnect). Per connection the
    period comes from estimate_lattice and the phase is a robust line through
    the earliest arrival of each group of events (_segment_lattice: arrivals
    are never early, and a line absorbs a slow rate difference between the
    radio's clock and the host's). The event that delivered exchange i's write is the lattice point
    nearest to t2_i mapped with a coarse offset (midway between the upper
    envelope of t1 - t2 and the lower envelope of t4 - t3 over +/- coarse_s:
    t1 <= t2 + offset and t3 + offset <= t4 always). An offset that breaks
    causality (t1 - t2 <= offset <= t4 - t3, within tol_us) means the lattice
    does not explain that exchange: it is dropped.
    """
    ex = exchange_array(ex)
    arr = np.sort(np.asarray(arrivals_us, dtype=np.int64))
    n = len(ex)
    out = np.full(n, np.nan)
    intervals = np.zeros(n)
    if n == 0 or len(arr) == 0:
        return {"offset_us": out, "interval_us": intervals}
    if not segments_us:
        segments_us = [(int(min(arr[0], ex[0, 0])), int(max(arr[-1], ex[-1, 3])) + 1)]
    t1 = ex[:, 0]
    t2 = ex[:, 1]
    up = (t1 - t2).astype(np.float64)  # lower bound of the offset per exchange
    down = (ex[:, 3] - ex[:, 2]).astype(np.float64)  # upper bound of the offset per exchange
    half = coarse_s * 1e6
    last_t = int(max(arr[-1], t1.max())) + 1
    seg_info = []
    for seg_a, seg_b in segments_us:
        seg_b = min(int(seg_b), last_t)
        idx = np.nonzero((t1 >= seg_a) & (t1 < seg_b))[0]
        if not len(idx):
            continue
        seg_arr = arr[(arr >= seg_a) & (arr < seg_b)]
        phase_fn = _segment_lattice(seg_arr, bin_s, drift_us_per_s=drift_us_per_s)
        if phase_fn is None:
            continue
        period, phase_at, info = phase_fn
        seg_info.append(info)
        idx = idx[np.argsort(t1[idx], kind="stable")]
        ts = t1[idx]
        lo = np.searchsorted(ts, ts - half, "left")
        hi = np.searchsorted(ts, ts + half, "right")
        up_s = up[idx]
        down_s = down[idx]
        # The offset lies between the neighbours' tightest bounds: above every
        # t1 - t2, below every t4 - t3. The lower bound alone is off by up to a
        # whole interval when every ping leaves just after an event (the warm-up
        # pings follow the previous reply), which dated writes one event early.
        up_max = np.array([up_s[a:b].max() for a, b in zip(lo, hi)])
        down_min = np.array([down_s[a:b].min() for a, b in zip(lo, hi)])
        target = t2[idx] + (up_max + down_min) / 2.0
        ph = phase_at(target)
        m = np.round((target - ph) / period)
        o = ph + m * period - t2[idx]
        # causality: the write reached the node after t1, the reply left before t4
        good = (up_s - tol_us <= o) & (o <= down_s + tol_us)
        out[idx[good]] = o[good]
        intervals[idx[good]] = period
    return {"offset_us": out, "interval_us": intervals, "segments": seg_info}


def _segment_lattice(arr, bin_s, group_events=32, chunk_s=10.0, drift_us_per_s=None):
    """(period_us, phase_at(t_us), info) for one connection's arrivals, or None.

    The phase is a line: its slope is the drift of the connection events
    against the host clock (drift_us_per_s, the adapter's, when given and the
    arrivals agree with it; else this connection's own), its level the edge
    of the latencies (never negative, so the earliest arrivals are the closest
    to their events). What it must not be fooled by:
    * a late arrival (busy host) that wraps round onto the previous event and
      looks *early*: a least-squares line through groups holding one tilted
      (seen: 25 us/s, a node off by up to 1.5 ms at the ends of a 30 s run).
      So the slope comes from a Theil-Sen line through each group's 10th
      percentile, and arrivals implausibly far below that line are left out
      of the edge;
    * the noise of an extreme: the earliest arrival of each group of 32
      events (the first version's edge) scatters by tens of us and its line's
      slope by 1-2 us/s, so nodes differed by +/-20 us at the ends of a 30 s
      run. The drift is shared by every link of one adapter (its clock against
      the host's, and the host stack's slow latency changes), so the median
      over the nodes is used (`common_lattice_drift`; a node whose own slope
      is clearly different keeps it: another adapter), and the level is
      the mean of the 0.5-2nd percentiles of all the first arrivals about the
      line: the same share of every node's latencies, so the small lateness
      of a low percentile cancels between nodes;
    * a pause (the warm-up exchanges come seconds before streaming): a group
      never spans one, and a short group (cut by a pause or the end) is dropped;
    * the radio's clock running at a different rate from the host's (tens of
      ppm: whole intervals over a long trial): the coarse phase is found per
      chunk_s chunk and unwrapped, and arrivals are measured from it.
    info: groups, groups_used, edge_scatter_us (10th percentile of the
    latencies above the edge: how sharply the arrivals show the events),
    drift_us_per_s (the slope used), drift_from ("common" or "own"),
    own_drift_us_per_s and its 95 % interval own_drift_ci_us_per_s.
    """
    t = np.unique(np.asarray(arr, dtype=np.int64)).astype(np.float64)
    # The interval per chunk (over a whole long trial a radio-vs-host rate
    # difference smears the phases), the most frequent one wins.
    chunk = ((t - t[0]) // (chunk_s * 1e6)).astype(np.int64)
    found = []
    tried = 0
    for c in np.unique(chunk):
        tc = t[chunk == c]
        if len(tc) < 40:  # a handful of arrivals can line up on some period by chance
            continue
        tried += 1
        lat = estimate_lattice(tc)
        if lat is not None:
            found.append(lat)
    pers, counts = (np.unique([f[0] for f in found], return_counts=True) if found else (np.zeros(0), np.zeros(0)))
    if not len(counts) or counts.max() <= 0.5 * tried:
        # A short or sparse connection, or chunks that disagree: all its arrivals at once.
        lat = estimate_lattice(t)
        if lat is None:
            return None
        found = [lat]
        period = lat[0]
    else:
        period = float(pers[np.argmax(counts)])
    phase0 = next(f[1] for f in found if f[0] == period)
    coarse = _coarse_phase(t, period, chunk_s)
    # Which event each arrival belongs to: the one at most period/8 after it
    # by the coarse phase, else the one before. The fine phase below is then
    # measured on one straight reference (phase0 + ev * period), so the coarse
    # phase's chunk-to-chunk noise does not reach it.
    ct = coarse(t)
    dw = ((t - ct + period / 8) % period) - period / 8
    # Event index counted from the coarse phase (continuous: it is unwrapped), so
    # d stays continuous when the lattice slides by half an interval or more.
    ev = np.round((t - dw - ct) / period).astype(np.int64)
    d = t - (phase0 + ev * period)  # arrival minus its event on the reference
    # One latency per connection event: its first arrival (the notifications of
    # one event reach the host together; the later ones carry the host's
    # processing of the earlier ones, not the event's latency).
    order = np.lexsort((d, ev))
    first = order[np.r_[True, ev[order][1:] != ev[order][:-1]]]
    t = t[first]
    d = d[first]
    cut = np.nonzero(np.diff(t) > bin_s * 1e6)[0] + 1
    groups = []
    for run in np.split(np.arange(len(t)), cut):
        for k in range(0, len(run), group_events):
            g = run[k:k + group_events]
            if len(g) >= group_events * 3 // 4:
                groups.append(g)
    info = {"groups": len(groups), "groups_used": 0, "edge_scatter_us": None, "drift_us_per_s": 0.0, "drift_from": "none"}
    if len(groups) < 3:
        return period, (lambda t_us, c=coarse: c(np.asarray(t_us, dtype=np.float64))), info
    x0 = t[groups[0][0]]
    xq = np.array([(np.median(t[g]) - x0) / 1e6 for g in groups])
    q10 = np.array([np.percentile(d[g], 10.0) for g in groups])
    slope_q, icpt_q, slope_lo, slope_hi = theilslopes(q10, xq)
    # How far below its 10th percentile an event's latency can honestly be: a few
    # times the spread between the 10th and 25th percentiles (both robust to the
    # wrapped arrivals, 5-6 % of all at load average 50; a low percentile of the
    # latencies themselves is not). For an exponential jitter the edge lies
    # 0.58 (q25 - q10) below q10.
    q25 = np.array([np.percentile(d[g], 25.0) for g in groups])
    guard = max(1.5 * float(np.median(q25 - q10)) + 50.0, 100.0)
    x = (t - x0) / 1e6
    ok = d - (icpt_q + slope_q * x) >= -guard
    if ok.sum() < 3:  # cannot happen with a real lattice (most arrivals lie above a low percentile)
        return period, (lambda t_us, c=coarse: c(np.asarray(t_us, dtype=np.float64))), info
    slope, info["drift_from"] = float(slope_q), "own"
    tolerance = (slope_hi - slope_lo) + DRIFT_MARGIN_US_PER_S
    if drift_us_per_s is not None and abs(drift_us_per_s - slope_q) <= tolerance:
        slope, info["drift_from"] = float(drift_us_per_s), "common"
    resid = d[ok] - slope * x[ok]
    level = float(np.mean(np.percentile(resid, EDGE_PERCENTILES)))
    info["groups_used"] = len(groups)
    info["own_drift_us_per_s"] = float(slope_q)
    info["own_drift_ci_us_per_s"] = (float(slope_lo), float(slope_hi))
    info["drift_us_per_s"] = slope
    # How sharply the arrivals show the events: their 10th percentile above the edge.
    info["edge_scatter_us"] = float(np.percentile(resid, 10.0) - level)

    def phase_at(t_us, a=level, b=slope, x0=x0, p0=phase0):
        return p0 + a + b * (np.asarray(t_us, dtype=np.float64) - x0) / 1e6

    return period, phase_at, info


def common_lattice_drift(nodes, bin_s=2.0):
    """Drift (us/s) of the connection events against the host clock, shared by the nodes, or None.

    nodes: iterable of (arrivals_us, segments_us) per node. Every link of one adapter
    has its events timed by the adapter's clock, and its notifications pass through
    the same host stack, so the slope of each connection's phase line is one quantity
    measured once per node: the median over nodes (at least 3) is steadier than any
    one of them. A node on another adapter shows a slope its own data exclude and
    keeps it (`_segment_lattice`)."""
    slopes = []
    for arrivals_us, segments_us in nodes:
        if arrivals_us is None or not len(arrivals_us):
            continue
        arr = np.sort(np.asarray(arrivals_us, dtype=np.int64))
        for seg_a, seg_b in (segments_us or [(int(arr[0]), int(arr[-1]) + 1)]):
            seg = arr[(arr >= seg_a) & (arr < seg_b)]
            if len(seg) < 40:
                continue
            got = _segment_lattice(seg, bin_s)
            if got is not None and got[2]["drift_from"] == "own":
                slopes.append(got[2]["own_drift_us_per_s"])
    return float(np.median(slopes)) if len(slopes) >= 3 else None


def _coarse_phase(t, period, chunk_s):
    """Density edge of the arrivals per chunk_s chunk, unwrapped: a function of host time.

    Piecewise linear between chunk centres (constant beyond), so a lattice that
    slides against the host clock by whole intervals over a long trial is
    followed; within one chunk the slide is at most a few hundred us."""
    base = t[0]
    chunk = ((t - base) // (chunk_s * 1e6)).astype(np.int64)
    xs = []
    ps = []
    for c in np.unique(chunk):
        m = chunk == c
        if m.sum() < 20 and len(xs):
            continue
        e = _density_edge(t[m] - base, period)
        if ps:  # unwrap: the nearest copy of the edge to the previous chunk's
            e = ps[-1] + (((e - ps[-1]) + period / 2) % period) - period / 2
        xs.append(float(np.median(t[m])))
        ps.append(e)
    xs = np.asarray(xs)
    ps = np.asarray(ps)

    def coarse(t_us):
        return base + np.interp(t_us, xs, ps)

    return coarse


def _running_median(x, y, half):
    """Median of y over x +/- half at every point (x ascending)."""
    lo = np.searchsorted(x, x - half, "left")
    hi = np.searchsorted(x, x + half, "right")
    return np.array([np.median(y[a:b]) for a, b in zip(lo, hi)])


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
