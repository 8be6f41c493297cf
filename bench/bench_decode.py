"""Bulk EMG decode throughput: numpy decoder vs the reference decoder, same run.

    python bench/bench_decode.py            # 20000 frames (2.26 M samples), 5 repeats
    python bench/bench_decode.py --quick    # 2000 frames, 3 repeats

Prints medians over repeats (samples/s), the ratio numpy/reference, the
projected time for a 10-minute 12-node 2 kHz session, and the wire
efficiency of EMG frames at several ATT MTUs (myowire.codec's frame plan).
"""

import argparse
import statistics
import time

import numpy as np

from myostride import bulkdecode
from myowire import codec


def make_frames(n_frames, seed=0):
    """A node's EMG stream at MTU 247: 113-sample frames, consecutive seq and t0 at 2 kHz."""
    rng = np.random.default_rng(seed)
    per = codec.emg_samples_for_mtu(247)
    codes = rng.normal(0, 800, size=(n_frames, per)).clip(-32768, 32767).astype(np.int16)
    return [codec.encode_emg(3, i, (i * per * 1_000_000) // 2000, codes[i].tolist()) for i in range(n_frames)], codes


def reference_decode(frames):
    """The reference path: codec.decode_frame per frame, samples gathered into one int16 array."""
    out = []
    for f in frames:
        out.extend(codec.decode_frame(f)["samples"])
    return np.array(out, dtype=np.int16)


def timed_interleaved(variants, repeats):
    """Median seconds per variant; variants run in turn within each repeat so a
    shared, busy machine slows them alike and the ratios stay fair."""
    times = {name: [] for name, _ in variants}
    results = {}
    for _ in range(repeats):
        for name, fn in variants:
            t = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2000 frames, 3 repeats")
    a = ap.parse_args()
    if a.quick:
        a.frames, a.repeats = 2000, 3
    frames, codes = make_frames(a.frames)
    n_samples = codes.size
    buf = b"".join(frames)
    offs = np.arange(a.frames) * len(frames[0])
    lens = np.full(a.frames, len(frames[0]))

    variants = [
        ("reference decode_frame + np.array", lambda: reference_decode(frames)),
        ("reference decode_frame only (lists)", lambda: [codec.decode_frame(f) for f in frames]),
        ("bulkdecode.decode_emg_frames(list)", lambda: bulkdecode.decode_emg_frames(frames)),
        ("bulkdecode.decode_emg_buffer(buf)", lambda: bulkdecode.decode_emg_buffer(buf, offs, lens)),
    ]
    med, res = timed_interleaved(variants, a.repeats)
    t_ref, t_ref_only, t_list, t_buf = (med[name] for name, _ in variants)
    ref = res[variants[0][0]]
    batch, batch2 = res[variants[2][0]], res[variants[3][0]]
    assert np.array_equal(batch.samples[:, 0], ref) and np.array_equal(batch2.samples[:, 0], codes.ravel())
    assert not batch.rejected

    print("bulk EMG decode, %d frames x %d samples = %d samples, median of %d" % (a.frames, codes.shape[1], n_samples, a.repeats))
    rows = [(name, med[name]) for name, _ in variants]
    for name, t in rows:
        print("  %-38s %8.1f ms  %7.1f M samples/s" % (name, t * 1e3, n_samples / t / 1e6))
    print("  ratio numpy(list) / reference+array:  %.1fx" % (t_ref / t_list))
    print("  ratio numpy(list) / reference only:   %.1fx" % (t_ref_only / t_list))
    print("  ratio numpy(buffer) / reference+array: %.1fx" % (t_ref / t_buf))
    session_frames = 12 * 600 * 2000 / codes.shape[1]
    print("  10-min 12-node 2 kHz session (%d frames): numpy %.2f s, reference %.2f s (projected)"
          % (session_frames, t_list / a.frames * session_frames, t_ref / a.frames * session_frames))

    print("\nwire efficiency of EMG frames (1 channel): sample bytes / notification bytes")
    print("  %4s %8s %12s %8s %10s %12s" % ("MTU", "samples", "frame bytes", "notifs", "air bytes", "efficiency"))
    for mtu in (23, 27, 185, 247, 512):
        n = codec.emg_samples_for_mtu(mtu)
        flen = codec.OVERHEAD + 2 * n
        k, air = codec.notifications_for(flen, mtu)
        one = codec.emg_samples_per_frame(mtu - 3)
        print("  %4d %8d %12d %8d %10d %11.1f%%   (one frame per notification: %d samples, %.1f%%)"
              % (mtu, n, flen, k, air, 100 * codec.emg_efficiency(mtu), one, 100 * 2 * one / (codec.OVERHEAD + 2 * one) if one else 0))


if __name__ == "__main__":
    main()
