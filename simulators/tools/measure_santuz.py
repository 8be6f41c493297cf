"""Measure per-stride muscle on/off timing from the Santuz treadmill recording.

Regenerates the numbers in simulators/myosim/physiology.py (MEASURED_PCT) from
../shared/data/santuz_treadmill (A. Santuz, musclesyneRgies, MIT licence; trial
ID0012_TW_01, right leg, 13 muscles at 1 kHz, 5 full cycles between touchdowns).

Method (ours, stated so it can be challenged): band-pass 20-450 Hz (4th-order
Butterworth, zero phase), full-wave rectify, 6 Hz zero-phase low-pass; per cycle
(touchdown to touchdown) resample to 0-100 %; a muscle is active where its envelope
exceeds 30 % of the way from its trial minimum to the peak of its mean cycle.
Template bursts are the active runs of the mean cycle (runs shorter than 4 % dropped,
gaps under 4 % closed, the cycle treated as a circle so a burst may wrap past 100 %);
each cycle's burst is the active run that overlaps the template most. Per template:
mean and SD of onset and offset over the cycles that have it, and the share of cycles
that do. Five cycles make the SDs rough: the simulator floors them (physiology.py).

Crosstalk: peroneus longus lies next to tibialis anterior on the shank. Its bursts that lie
inside a tibialis anterior burst (within 2 %) are taken as crosstalk and left out: the
simulator models no crosstalk, and peroneus longus is a stance-phase muscle (its swing
"bursts" in this recording copy tibialis anterior's timing). Listed in CROSSTALK_DROPPED.

Run: python simulators/tools/measure_santuz.py [DATA_DIR]
"""

import sys
from pathlib import Path

import numpy as np
from scipy import signal

CODES = ("ME", "MA", "FL", "RF", "VM", "VL", "ST", "BF", "TA", "PL", "GM", "GL", "SO")
THRESHOLD_SHARE = 0.30
CROSSTALK_FROM = {"PL": "TA"}  # muscle -> the neighbour whose bursts it picks up
MIN_RUN_PCT = 4
N = 100


def runs(mask):
    """Circular runs of True as lists of indices (0..N-1), in order of their start."""
    if mask.all():
        return [list(range(N))]
    if not mask.any():
        return []
    start = int(np.flatnonzero(~mask)[0])
    out, cur = [], []
    for k in range(N):
        i = (start + k) % N
        if mask[i]:
            cur.append(i)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def close_gaps(mask, gap):
    m = mask.copy()
    for r in runs(~mask):
        if len(r) < gap:
            m[r] = True
    return m


def clean(mask):
    m = close_gaps(mask, MIN_RUN_PCT)
    for r in runs(m):
        if len(r) < MIN_RUN_PCT:
            m[r] = False
    return m


def span(run):
    """(on_pct, off_pct) with off > 100 for a run that wraps past the cycle's end."""
    on, last = run[0], run[-1] + 1
    return float(on), float(last if last > on else last + N)


def measure(data_dir):
    d = Path(data_dir) / "santuz_treadmill"
    raw = np.genfromtxt(d / "ID0012_TW_01_raw_emg.csv", delimiter=",", names=True)
    cyc = np.genfromtxt(d / "ID0012_TW_01_cycles.csv", delimiter=",", names=True)
    t = raw["time"]
    fs = 1.0 / np.median(np.diff(t))
    bp = signal.butter(4, [20, 450], "bandpass", fs=fs, output="sos")
    lp = signal.butter(4, 6, "lowpass", fs=fs, output="sos")
    td = cyc["touchdown_s"]
    lo_s = cyc["liftoff_s"]
    stance = [100.0 * (lo - a) / (b - a) for a, b, lo in zip(td[:-1], td[1:], lo_s[:-1])]
    out = {"stance_pct": round(float(np.mean(stance)), 1)}
    for code in CODES:
        env = signal.sosfiltfilt(lp, np.abs(signal.sosfiltfilt(bp, raw[code])))
        cycles = []
        for a, b in zip(td[:-1], td[1:]):
            grid = a + (b - a) * np.arange(N) / N
            cycles.append(np.interp(grid, t, env))
        cycles = np.array(cycles)
        lo, hi = env.min(), cycles.mean(axis=0).max()
        thr = lo + THRESHOLD_SHARE * (hi - lo)
        template = runs(clean(cycles.mean(axis=0) > thr))
        per = [runs(clean(c > thr)) for c in cycles]
        bursts = []
        for tr in template:
            ts = set(tr)
            ons, offs = [], []
            for rs in per:
                best = max(rs, key=lambda r: len(ts.intersection(r)), default=None)
                if best is None or not ts.intersection(best):
                    continue
                on, off = span(best)
                t_on, _ = span(tr)
                if on > t_on + N / 2:  # keep the onset on the template's side of the wrap
                    on, off = on - N, off - N
                elif on < t_on - N / 2:
                    on, off = on + N, off + N
                ons.append(on)
                offs.append(off)
            if ons:
                bursts.append((round(float(np.mean(ons)), 1), round(float(np.std(ons, ddof=1)) if len(ons) > 1 else 0.0, 1),
                               round(float(np.mean(offs)), 1), round(float(np.std(offs, ddof=1)) if len(offs) > 1 else 0.0, 1),
                               round(len(ons) / len(cycles), 2)))
        out[code] = sorted(bursts)
    dropped = {}
    for code, src in CROSSTALK_FROM.items():
        keep = []
        for b in out[code]:
            inside = any(b[0] >= s[0] - 2 and b[2] <= s[2] + 2 for s in out[src])
            (dropped.setdefault(code, []) if inside else keep).append(b)
        out[code] = keep
    out["crosstalk_dropped"] = dropped
    return out


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[2]
    res = measure(sys.argv[1] if len(sys.argv) > 1 else here.parent / "shared" / "data")
    print("SOURCE_STANCE_PCT = %r" % res.pop("stance_pct"))
    print("CROSSTALK_DROPPED = %r" % {k: tuple(v) for k, v in res.pop("crosstalk_dropped").items()})
    print("MEASURED_PCT = {  # (on_mean, on_sd, off_mean, off_sd, share of strides)")
    for code, b in res.items():
        print("    %r: %r," % (code, tuple(b)))
    print("}")
