"""An LSL consumer in its own process, like LabRecorder: resolve, open inlets, record, save.

    python3 lsl_receiver.py --prefix NAME --streams N --out FILE.npz [--seconds MAX]

Prints "IMPORTED" once liblsl is loaded, waits for N streams whose names start with NAME, prints
"READY" when every inlet is open (samples pushed before that are not received), pulls
until each markers stream has sent its "end" marker (or MAX seconds), then writes FILE.npz:
for stream i, info_i (its full XML description), data_i, ts_i (raw LSL timestamps: no
post-processing), and clock_pairs (time.time_ns() / local_clock() pairs taken here, so a
caller can put the simulator's wall-clock-based time on this machine's LSL clock).
"""

import argparse
import sys
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--streams", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=120.0)
    a = ap.parse_args(argv)
    from mne_lsl.lsl import StreamInlet, local_clock, resolve_streams

    print("IMPORTED", flush=True)  # liblsl is loaded: streams created from now on are found quickly

    t_begin = time.monotonic()
    deadline = t_begin + a.seconds
    found = {}
    while len(found) < a.streams and time.monotonic() < deadline:
        for info in resolve_streams(timeout=0.5):
            if info.name.startswith(a.prefix) and info.source_id not in found:
                found[info.source_id] = info
    if len(found) < a.streams:
        print("only %d of %d streams found" % (len(found), a.streams), flush=True)
        return 1
    inlets = []
    infos = []
    for sid in sorted(found):
        inlet = StreamInlet(found[sid], processing_flags=None)
        inlet.open_stream(timeout=10)
        inlets.append(inlet)
        infos.append(inlet.get_sinfo(timeout=10))  # now: once the outlet is gone this would wait
    print("READY", flush=True)
    t_ready = time.monotonic()
    data = [[] for _ in inlets]
    stamps = [[] for _ in inlets]
    ended = set()
    markers = [i for i, info in enumerate(infos) if info.stype == "Markers"]
    pairs = []
    while time.monotonic() < deadline:
        got_any = False
        for i, inlet in enumerate(inlets):
            x, ts = inlet.pull_chunk(timeout=0.0, max_samples=4096)
            if len(ts):
                got_any = True
                data[i].extend(list(np.array(x, copy=True)) if not isinstance(x, list) else list(x))
                stamps[i].extend(list(ts))
                if i in markers and any(str(row[0]).startswith("end") for row in x):
                    ended.add(i)
        if len(pairs) < 50 or not got_any:
            before = local_clock()
            wall = time.time_ns()
            pairs.append((wall, (before + local_clock()) / 2.0))
        if markers and len(ended) == len(markers):
            end_at = time.monotonic() + 1.0  # the data streams' last held samples follow the marker
            while time.monotonic() < end_at:
                for i, inlet in enumerate(inlets):
                    x, ts = inlet.pull_chunk(timeout=0.0, max_samples=4096)
                    data[i].extend(list(np.array(x, copy=True)) if not isinstance(x, list) else list(x))
                    stamps[i].extend(list(ts))
                time.sleep(0.02)
            break
        if not got_any:
            time.sleep(0.01)
    out = {"clock_pairs": np.array(pairs, dtype=np.float64), "n": np.array(len(inlets))}
    for i, inlet in enumerate(inlets):
        sinfo = infos[i]
        out["info_%d" % i] = np.array(sinfo.as_xml)
        if sinfo.stype == "Markers":
            out["data_%d" % i] = np.array([str(r[0]) for r in data[i]], dtype=object)
        else:
            out["data_%d" % i] = np.array(data[i], dtype=np.float32).reshape(-1, sinfo.n_channels)
        out["ts_%d" % i] = np.array(stamps[i], dtype=np.float64)
        inlet.close_stream()
    np.savez(a.out, **out)
    print("timing: ready after %.1f s, pulled %.1f s" % (t_ready - t_begin, time.monotonic() - t_ready), file=sys.stderr)
    print("DONE %d" % sum(len(s) for s in stamps), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
