"""Gait events derived from force plates and from markers against the events the labs stored.

For every shared real C3D file that stores events (ktk walk.c3d from its zip, and the c3d/
folder), the events myostride derives from the file's force plates (clean contacts only) and
from its markers (Zeni 2008 with the strike at the end of the heel's descent) are matched to the
stored events of the same side and kind (nearest within 0.2 s) and the differences summarised:
count matched, median |difference|, largest |difference|, median signed difference (derived -
stored). Baseline in the same run: plain Zeni (strike at the heel's most anterior position).
Goals (issue 11): force plates within 10 ms median, markers within 25 ms median, pooled over files.

Stored events are a lab's judgement (often placed from the plates, sometimes by eye), not
ground truth: a file whose stored events disagree with its own plates shows here as such.

Run: python bench/bench_events.py [--data ../shared/data]
"""

import argparse
import os
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("host", "simulators", "protocol"):
    sys.path.insert(0, os.path.join(HERE, "..", sub))

from myostride.analysis import c3d_events, events_markers  # noqa: E402
from myostride.analysis.events import MATCH_TOLERANCE_S  # noqa: E402

GOAL_MS = {"forceplate": 10.0, "markers": 25.0}


def derived_for(path):
    """(stored events, {"forceplate": events, "markers": events}) for one C3D file."""
    import ezc3d

    from myostride.analysis.channels import Recording

    c = ezc3d.c3d(path)
    h = c["header"]
    point_rate = float(h["points"]["frame_rate"] or 0.0)
    start_s = int(h["points"]["first_frame"]) / point_rate if point_rate else 0.0
    analog_rate = float(np.ravel(c["parameters"]["ANALOG"]["RATE"]["value"])[0])
    rec = Recording("c3d", path, start_s)
    c3d_events.attach_c3d_events(rec, c, start_s, analog_rate)
    out = {name: d["events"] for name, d in rec.derived_events.items() if d.get("events")}
    return rec.events, out


def diffs_ms(found, truth):
    """Signed differences (ms) of found events to the nearest stored event of the same side and kind."""
    out = []
    for side in ("left", "right"):
        for kind in ("foot_strike_s", "foot_off_s"):
            ref = np.asarray(truth[side][kind])
            for t in found[side][kind]:
                if len(ref):
                    j = int(np.argmin(np.abs(ref - t)))
                    if abs(ref[j] - t) <= MATCH_TOLERANCE_S:
                        out.append(1000.0 * (t - ref[j]))
    return np.asarray(out)


def row(name, source, d):
    if not len(d):
        return "%-24s %-22s %4d %10s %10s %10s" % (name, source, 0, "-", "-", "-")
    return "%-24s %-22s %4d %10.1f %10.1f %10.1f" % (name, source, len(d), np.median(np.abs(d)),
                                                     np.max(np.abs(d)), np.median(d))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    args = ap.parse_args()
    files = []
    tmp = tempfile.TemporaryDirectory()
    zpath = os.path.join(args.data, "ktk_walk", "walk.c3d.zip")
    if os.path.exists(zpath):
        with zipfile.ZipFile(zpath) as zf:
            zf.extract("walk.c3d", tmp.name)
        files.append(("ktk_walk", os.path.join(tmp.name, "walk.c3d")))
    folder = os.path.join(args.data, "c3d")
    for f in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if f.endswith(".c3d"):
            files.append((f[:-4], os.path.join(folder, f)))
    if not files:
        sys.exit("no shared C3D files under %s" % args.data)

    pooled = {"forceplate": [], "markers": [], "markers (plain Zeni)": []}
    print("%-24s %-22s %4s %10s %10s %10s" % ("file", "source", "n", "med|d| ms", "max|d| ms", "med d ms"))
    refine = events_markers._refine_strikes
    for name, path in files:
        stored, derived = derived_for(path)
        if not stored:
            print("%-24s %s" % (name, "no stored events: not compared"))
            continue
        events_markers._refine_strikes = lambda times, *a: list(times)  # baseline: plain Zeni
        try:
            _, plain = derived_for(path)
        finally:
            events_markers._refine_strikes = refine
        for source, ev in (("forceplate", derived.get("forceplate")), ("markers", derived.get("markers")),
                           ("markers (plain Zeni)", plain.get("markers"))):
            if ev is None:
                print("%-24s %-22s %s" % (name, source, "none derived"))
                continue
            d = diffs_ms(ev, stored)
            pooled[source] += list(d)
            print(row(name, source, d))
    print()
    for source, d in pooled.items():
        d = np.asarray(d)
        line = row("ALL FILES", source, d)
        if source in GOAL_MS and len(d):
            q1, q3 = np.percentile(np.abs(d), [25, 75])
            ok = np.median(np.abs(d)) <= GOAL_MS[source]
            line += "   IQR |d| %.1f-%.1f ms; goal <= %.0f ms median: %s" % (q1, q3, GOAL_MS[source],
                                                                            "met" if ok else "NOT met")
        print(line)
    base, ours = np.abs(pooled["markers (plain Zeni)"]), np.abs(pooled["markers"])
    if len(base) and len(ours) and np.median(ours) > 0:
        print("markers: median |d| plain Zeni / ours = %.2f" % (np.median(base) / np.median(ours)))
    tmp.cleanup()


if __name__ == "__main__":
    main()
