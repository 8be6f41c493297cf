"""Comparison of a muscle's activation profile with its normal windows (% of the gait cycle).

The profile is where the muscle is active in at least half of the strides (activation
frequency >= 0.5), on the cycle as a circle (100 % is the next 0 %, so a tibialis anterior
burst 90-10 % is one burst). Flags:
- absent: no activity anywhere, or none in a normal window (less than 20 % of it covered);
- continuous: active over more than 90 % of the cycle;
- premature: a burst starts more than TOLERANCE_PCT before the normal window it runs into;
- prolonged: a burst runs more than TOLERANCE_PCT past the end of its normal window;
- out_of_phase: a burst mostly (>= 80 %) outside every normal window;
- normal: none of the above.
"""

import numpy as np

from ..muscles import NORMAL_WINDOWS_PCT

TOLERANCE_PCT = 10.0
ACTIVE_SHARE = 0.5
MIN_BURST_PCT = 3
N = 100  # circle of 1 % steps


def windows_mask(windows_pct):
    idx = np.arange(N)
    mask = np.zeros(N, dtype=bool)
    for a, b in windows_pct:
        mask |= (idx >= a) & (idx < b) if b < 100 else (idx >= a)
    return mask


def circular_runs(mask):
    """Runs of True on the circle as lists of indices in order (a run may wrap past 99)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.all():
        return [list(range(N))]
    if not mask.any():
        return []
    start = int(np.flatnonzero(~mask)[0])  # begin scanning at a False so no run is split
    order = [(start + k) % N for k in range(N)]
    return [[order[pos] for pos in run] for run in true_runs([mask[i] for i in order])]


def true_runs(flags):
    """Runs of True in a sequence, as lists of positions."""
    out, cur = [], []
    for pos, flag in enumerate(flags):
        if flag:
            cur.append(pos)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _span(run):
    end = run[-1] + 1
    if end <= run[0]:  # wraps past 100 %
        return "%d-100 %% and 0-%d %%" % (run[0], end)
    return "%d-%d %%" % (run[0], end)


def compare(activation_frequency, muscle, windows_pct=None):
    """List of {"kind", "detail"} flags for a muscle's activation frequency (101 points)."""
    freq = np.asarray(activation_frequency, dtype=np.float64)[:N]
    active = freq >= ACTIVE_SHARE
    windows = windows_pct if windows_pct is not None else NORMAL_WINDOWS_PCT.get(muscle, ())
    normal = windows_mask(windows)
    flags = []
    share = active.mean()
    if share == 0:
        return [{"kind": "absent", "detail": "no activity in at least half of the strides at any point of the cycle"}]
    if share > 0.9:
        flags.append({"kind": "continuous", "detail": "active over %.0f %% of the cycle" % (100 * share)})
        return flags
    for run in circular_runs(normal):
        covered = active[run].mean()
        if covered < 0.2:
            flags.append({"kind": "absent", "detail": "no activity in the normal window %s" % _span(run)})
    for run in circular_runs(active):
        if len(run) < MIN_BURST_PCT:
            continue
        inside = normal[run]
        if inside.mean() <= 0.2:
            flags.append({"kind": "out_of_phase", "detail": "active %s, outside the normal windows" % _span(run)})
            continue
        # Abnormal stretches inside the burst: before its first normal part (premature), after its
        # last (prolonged), or bridging two normal windows (prolonged past the earlier one).
        for part in true_runs(~inside):
            length = len(part)
            if length <= TOLERANCE_PCT:
                continue
            a, b = run[part[0]], (run[part[-1]] + 1) % N or 100
            if part[0] == 0:
                flags.append({"kind": "premature", "detail": "active from %d %%, %d %% before the normal window "
                              "starting at %d %%" % (a, length, run[part[-1] + 1])})
            elif part[-1] == len(run) - 1:
                flags.append({"kind": "prolonged", "detail": "active until %d %%, %d %% past the normal window "
                              "ending at %d %%" % (b, length, a)})
            else:
                flags.append({"kind": "prolonged", "detail": "active through %d-%d %%, between normal windows "
                              "(%d %% outside them)" % (a, b, length)})
    if not flags:
        flags.append({"kind": "normal", "detail": "activity within the normal windows (+/-%d %%)" % TOLERANCE_PCT})
    return flags
