"""Archive throughput of `myostride batch`: trials per hour with 1 and with 2 local Dask workers.

Goal (issue 16): at least 1,000 ten-second 8-channel trials per hour on this 2-core machine.
The archive is simulated lab exports (myosim.labfile: 2 kHz EMG in volts, stored events), each trial
a distinct file. Each run analyses the whole archive into a fresh results folder, cluster start-up
included (what a user waits for); the 2-worker / 1-worker ratio is measured in the same run.

Run: python bench/bench_batch.py [--trials 40] [--repeat 3] [--seconds 10] [--channels 8]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "simulators", "protocol"):
    sys.path.insert(0, os.path.join(HERE, "..", sub))

from myosim.labfile import write_trial_c3d  # noqa: E402
from myostride.analysis import pipeline  # noqa: E402
from myostride.batch import discover, runner  # noqa: E402

GOAL_PER_HOUR = 1000.0


def build_archive(root, trials, seconds, channels):
    for i in range(trials):
        folder = os.path.join(root, "patient%02d" % (i // 5))
        os.makedirs(folder, exist_ok=True)
        write_trial_c3d(os.path.join(folder, "walk%02d.c3d" % i), seconds=seconds, channels=channels, seed=100 + i)


def one_run(root, workers, scratch):
    out = tempfile.mkdtemp(dir=scratch)
    jobs = discover.discover(root)
    t0 = time.perf_counter()
    summary = runner.run_batch(jobs, pipeline.settings_with(), out, workers=workers, progress=False)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(out)
    if summary["failed"] or summary["analysed"] != len(jobs):
        raise SystemExit("bench archive did not analyse cleanly: %r" % summary)
    return len(jobs) * 3600.0 / elapsed, elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="bench-batch-")
    try:
        root = os.path.join(scratch, "archive")
        t0 = time.perf_counter()
        build_archive(root, args.trials, args.seconds, args.channels)
        print("archive: %d trials x %g s x %d channels at 2 kHz, written in %.1f s"
              % (args.trials, args.seconds, args.channels, time.perf_counter() - t0))
        rates = {1: [], 2: []}
        for r in range(args.repeat):
            for workers in (1, 2):  # interleaved, so machine load hits both alike
                per_hour, elapsed = one_run(root, workers, scratch)
                rates[workers].append(per_hour)
                print("run %d, %d worker(s): %.1f s, %.0f trials/hour" % (r + 1, workers, elapsed, per_hour))
        print("load average: %s" % open("/proc/loadavg").read().split()[:3])
        for workers in (1, 2):
            v = rates[workers]
            print("%d worker(s): median %.0f trials/hour (min %.0f, max %.0f over %d runs)"
                  % (workers, statistics.median(v), min(v), max(v), len(v)))
        ratios = [b / a for a, b in zip(rates[1], rates[2])]
        print("2 workers / 1 worker: median %.2fx (min %.2f, max %.2f)"
              % (statistics.median(ratios), min(ratios), max(ratios)))
        best = statistics.median(rates[2])
        print("goal >= %.0f trials/hour with 2 workers: %s" % (GOAL_PER_HOUR, "met" if best >= GOAL_PER_HOUR else "NOT met"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
