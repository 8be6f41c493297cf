"""Analysis speed: a 12-channel, 10-minute, 2 kHz walking recording through the whole pipeline.

Goals: under 10 s on this machine (issue 6); at most 8x the baseline (issue 16: not met, 26x;
docs/analysis.md s.10 says what is left). Baseline measured in the same run: one zero-phase
band-pass (scipy sosfiltfilt) over the same channels, the least any EMG analysis must do; the
ratio says how many band-pass passes the full analysis costs. Prints the median of --repeat runs.

Run: python bench/bench_analysis_speed.py [--minutes 10] [--channels 12] [--repeat 3]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "simulators"):
    sys.path.insert(0, os.path.join(HERE, "..", sub))

from myosim.emg import synthesize_trial  # noqa: E402
from myosim.patient import GAIT_MUSCLES  # noqa: E402
from myostride.analysis import emgproc, pipeline  # noqa: E402
from myostride.analysis.channels import EmgInput, Recording  # noqa: E402

GOAL_S = 10.0


def build(minutes, channels, fs_hz):
    keys = [(side, m) for m in GAIT_MUSCLES for side in ("left", "right")][:channels]
    sig, events, _ = synthesize_trial("normal", minutes * 60.0, seed=1, fs_hz=fs_hz, snr_db=20.0, hum_hz=50,
                                      muscles=keys)
    rec = Recording("session", "bench", 0.0)
    for (side, muscle), x in sig.items():
        t = np.arange(len(x)) / fs_hz
        rec.emg.append(EmgInput("%s_%s" % (side, muscle), fs_hz, t, x, side=side, muscle=muscle))
    rec.events = events
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=12)
    ap.add_argument("--fs", type=float, default=2000.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rec = build(args.minutes, args.channels, args.fs)
    n = len(rec.emg[0].uv)
    print("recording: %d channels x %.0f s at %g Hz (%d samples each), synthesised in %.1f s"
          % (len(rec.emg), n / args.fs, args.fs, n, time.perf_counter() - t0))
    base, full = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for ch in rec.emg:
            emgproc.bandpass(ch.uv, ch.fs_hz)
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = pipeline.analyse(rec)
        full.append(time.perf_counter() - t0)
    b, f = statistics.median(base), statistics.median(full)
    strides = sum(c["strides_used"] for c in result["channels"])
    print("baseline (band-pass only, all channels): median %.2f s" % b)
    print("full analysis (events, conditioning, detection, quality, cycles, flags): median %.2f s  (runs: %s)"
          % (f, ", ".join("%.2f" % x for x in full)))
    print("ratio full/baseline: %.1f; budget %.0f s: %s (%.0f %% of budget); %d channel-strides analysed"
          % (f / b, GOAL_S, "met" if f < GOAL_S else "NOT met", 100.0 * f / GOAL_S, strides))
    return 0


if __name__ == "__main__":
    sys.exit(main())
