"""How sure a node's clock fit is, so a doubtful one is flagged instead of silently used.

The clock model of a node (sync.fit_clock) cannot be checked against the
truth on real hardware, but it can be checked against itself: the same
estimator run on two disjoint halves of the evidence (alternate blocks of
host time: exchanges *and* notification arrivals, so the connection-event
lattice is re-estimated too) must agree. Half of their disagreement is an
estimate of the full fit's error (each half has about twice its variance);
its 95th percentile over the recording is `uncertainty_us`.

What this cannot see: an error both halves share (the host stack's fixed
latency, the same for every node on one adapter; a node whose receive delay
never drops below some floor). What it does see: a lattice line tilted by a
few stray arrivals, too few exchanges, a noisy fit, no lattice at all.
"""

import numpy as np

from . import sync

UNSURE_US = 25.0  # half the 50 us inter-node alignment goal
BLOCK_S = 5.0  # alternate blocks of host time: long enough for a lattice group, short enough for many blocks


def assess(rows, fit, arrivals_us=None, segments_us=None, span_node_us=None, block_s=BLOCK_S, unsure_us=UNSURE_US,
           lattice_drift_us_per_s=None):
    """Quality figures for `fit` (a ClockFit from these inputs); adds them to fit.stats and returns them.

    span_node_us: (first, last) node time the samples cover (the fit is judged
    there); default the exchanges' span. lattice_drift_us_per_s: the common drift the
    fit was given (the halves get it too: an error in it is shared by every node, so
    it is not part of this node's alignment error).
    Keys: uncertainty_us (None when it cannot be told), split_half_us, unsure
    (bool) and unsure_reasons (list of one-line texts).
    """
    st = fit.stats if fit.stats is not None else {}
    ex = sync.exchange_array(rows)
    reasons = []
    method = st.get("method")
    split_us = None
    if len(ex) >= 8:
        t0 = int(ex[0, 0])
        # At least four blocks: a short recording gets shorter blocks.
        blk = int(max(min(block_s * 1e6, (int(ex[-1, 0]) - t0) / 4.0), 0.5e6))
        arr = np.asarray(arrivals_us, dtype=np.int64) if arrivals_us is not None and len(arrivals_us) else None
        halves = []
        for h in (0, 1):
            m = ((ex[:, 0] - t0) // blk) % 2 == h
            a_h = arr[((arr - t0) // blk) % 2 == h] if arr is not None else None
            try:
                halves.append(sync.fit_clock(ex[m], arrivals_us=a_h, segments_us=segments_us,
                                             method="lattice" if method == "lattice" else "midpoint",
                                             lattice_drift_us_per_s=lattice_drift_us_per_s))
            except ValueError:
                halves.append(None)
        if halves[0] is not None and halves[1] is not None:
            lo, hi = span_node_us if span_node_us is not None else (ex[:, 1].min(), ex[:, 1].max())
            grid = np.linspace(float(lo), float(hi), 200)
            split_us = float(np.percentile(np.abs(halves[0].host_us(grid) - halves[1].host_us(grid)) / 2.0, 95))
    unc = split_us
    if method == "midpoint":
        half_rtt = float(st.get("rtt_median_us", 0.0)) / 2.0
        unc = max(unc or 0.0, half_rtt)
        reasons.append("no connection-event lattice in the notification times: midpoint method, "
                       "off by up to half the round trip (%.1f ms)" % (half_rtt / 1000.0))
    if split_us is None:
        reasons.append("too few time-sync exchanges (%d) to cross-check the clock fit on two halves" % len(ex))
    elif method != "midpoint" and unc > unsure_us:
        reasons.append("the clock fits of alternate %g s blocks disagree: uncertainty %.0f us (limit %.0f)" % (block_s, unc, unsure_us))
    out = {
        "uncertainty_us": None if unc is None else round(unc, 1),
        "split_half_us": None if split_us is None else round(split_us, 1),
        "unsure": bool(reasons),
        "unsure_reasons": reasons,
    }
    st.update(out)
    fit.stats = st
    return out
