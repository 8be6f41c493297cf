"""Node crystal clocks as piecewise-linear knots (docs/ARCHITECTURE.md, "Node clock").

A node's clock maps global time g (seconds) to node microseconds. Each node has
an offset (it was powered up before the session, so its counter is already
running at g = 0), a constant drift (crystal tolerance, within +/- drift_ppm) and
a slow wander of the drift (temperature), baked into knots every KNOT_STEP_S.
The node firmware sees only the result; truth.json records the parameters.
"""

import numpy as np

KNOT_STEP_S = 1.0
WANDER_PPM_PER_SQRT_MIN = 1.0  # random-walk wander of the drift, ppm after one minute (1 sigma)
MAX_BOOT_S = 1.0  # nodes were powered up 0.05-1 s before the session (g = 0)


class NodeClock:
    """One node's clock: knots plus the parameters that made them."""

    def __init__(self, offset_us, drift_ppm, wander_ppm, knots):
        self.offset_us = int(offset_us)
        self.drift_ppm = float(drift_ppm)
        self.wander_ppm = np.asarray(wander_ppm, dtype=float)  # per segment, added to drift
        self.knots = [[float(g), int(u)] for g, u in knots]
        self._g = np.array([k[0] for k in self.knots])
        self._u = np.array([k[1] for k in self.knots], dtype=float)

    def node_us(self, g_s):
        """Node microseconds at global seconds (linear extrapolation at both ends)."""
        return _interp_extrap(np.asarray(g_s, dtype=float), self._g, self._u)

    def global_s(self, node_us):
        """Global seconds at node microseconds (the inverse map)."""
        return _interp_extrap(np.asarray(node_us, dtype=float), self._u, self._g)

    def truth(self):
        return {
            "offset_us": self.offset_us,
            "drift_ppm": self.drift_ppm,
            "wander_ppm_range": [float(self.wander_ppm.min()), float(self.wander_ppm.max())],
            "effective_ppm": [float(x) for x in np.round(self.drift_ppm + self.wander_ppm, 4)],
            "knot_step_s": KNOT_STEP_S,
            "knots": self.knots,
        }


def _interp_extrap(x, xp, fp):
    if x.ndim == 0:
        return float(_interp_extrap(x.reshape(1), xp, fp)[0])
    y = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    if lo.any():
        y[lo] = fp[0] + (x[lo] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    if hi.any():
        y[hi] = fp[-1] + (x[hi] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return y


def make_clock(rng, seconds, drift_ppm=100.0, wander=True):
    """A random node clock covering global time 0 .. seconds (+ margin).

    drift_ppm bounds |drift + wander| (the crystal's tolerance); 0 gives an ideal
    crystal apart from the boot offset.
    """
    if drift_ppm < 0:
        raise ValueError("drift_ppm must be >= 0")
    n = int(np.ceil(seconds / KNOT_STEP_S)) + 1
    offset_us = int(rng.uniform(0.05, MAX_BOOT_S) * 1e6)
    drift = rng.uniform(-drift_ppm, drift_ppm)
    if wander and drift_ppm > 0:
        step = WANDER_PPM_PER_SQRT_MIN * np.sqrt(KNOT_STEP_S / 60.0)
        w = np.cumsum(step * rng.standard_normal(n))
        w = np.clip(drift + w, -drift_ppm, drift_ppm) - drift  # the tolerance bound holds
    else:
        w = np.zeros(n)
    knots = [[0.0, offset_us]]
    u = float(offset_us)
    for i in range(n):
        u += KNOT_STEP_S * 1e6 * (1.0 + (drift + w[i]) * 1e-6)
        knots.append([round((i + 1) * KNOT_STEP_S, 6), int(round(u))])
    return NodeClock(offset_us, drift, w, knots)


def clock_from_truth(clock_truth):
    """Rebuild a NodeClock from truth.json's nodes[i]["clock"] (for benchmarks against truth)."""
    return NodeClock(clock_truth["offset_us"], clock_truth["drift_ppm"],
                     np.asarray(clock_truth["effective_ppm"]) - clock_truth["drift_ppm"], clock_truth["knots"])


def sample_times_s(clock_truth, k, rate_hz):
    """True global times (s) of a node's sample indices k at rate_hz (EMG or IMU)."""
    return clock_from_truth(clock_truth).global_s(np.asarray(k, dtype=float) * (1e6 / rate_hz))
