"""One node's frames -> sample streams on the session clock.

Sample times come from the node clock: EMG sample k happened at node time
k * 1e6 / emg_hz (k counted from node boot; a frame's t0_us is that time,
floored, for its first sample), mapped to host time through the node's
ClockFit and made relative to the session start. A hole in k is a gap:
nothing is filled in, the gap is reported with its time span.
"""


import numpy as np

from myowire import codec

from . import syncquality
from .sync import ClockFit, fit_clock

try:
    from .. import bulkdecode
except ImportError:  # the reference path below gives the same result, slower
    bulkdecode = None



class EmgStream:
    def __init__(self, k, codes, fs_hz, channels, recovered_samples):
        self.k = k  # int64 sample indices (node clock), ascending
        self.codes = codes  # int16 (n,) channel 0
        self.fs_hz = fs_hz
        self.channels = channels
        self.recovered_samples = recovered_samples

    def node_us(self):
        return self.k.astype(np.float64) * (1e6 / self.fs_hz)

    def holes(self):
        """[(i, k_missing_first, k_missing_end)]: samples k_first..k_end-1 are absent before index i."""
        if len(self.k) < 2:
            return []
        d = np.diff(self.k)
        idx = np.nonzero(d != 1)[0]
        return [(int(i + 1), int(self.k[i] + 1), int(self.k[i + 1])) for i in idx if d[i] > 1]


def decode_emg(frames, fs_hz, recovered_seqs=()):
    """frames: [(key, bytes)] of EMG frames in key order -> EmgStream (channel 0); key is the
    frame's seq, or (boot epoch, seq) from logscan; recovered_seqs holds keys of the same kind.

    Uses the vectorised bulk decoder (myostride.bulkdecode, same rules as the
    reference codec, CRC included); frames it rejects are left out here and
    were already reported by the log scan."""
    if not frames:
        return EmgStream(np.zeros(0, np.int64), np.zeros(0, np.int16), fs_hz, 1, 0)
    if bulkdecode is not None:
        b = bulkdecode.decode_emg_frames([f for _s, f in frames])
        counts = np.asarray(b.counts, dtype=np.int64)
        k0 = np.round(b.t0_us.astype(np.float64) * (fs_hz / 1e6)).astype(np.int64)
        flat = b.samples[:, 0]
        chans = b.channels
        is_rec = np.fromiter((s in recovered_seqs for s, _f in frames), dtype=bool, count=len(frames))
        rec_mask = is_rec[np.asarray(b.frame_index, dtype=np.int64)]
        rec = int(counts[rec_mask].sum())
    else:
        k0, counts, flat, chans, rec = _decode_emg_py(frames, fs_hz, recovered_seqs)
    starts = np.repeat(k0, counts)
    offs = np.arange(len(starts), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    k = starts + offs
    if np.any(np.diff(k) <= 0):
        # Overlapping or reordered frames (node time runs on across a reboot, so epochs follow
        # each other in k): keep the first copy in k order.
        order = np.argsort(k, kind="stable")
        k = k[order]
        flat = flat[order]
        keep = np.concatenate(([True], np.diff(k) > 0))
        k = k[keep]
        flat = flat[keep]
    return EmgStream(k, np.ascontiguousarray(flat, dtype=np.int16), fs_hz, chans, rec)


def _decode_emg_py(frames, fs_hz, recovered_seqs):
    """Reference path (no bulk decoder): per-frame header parse, one join for the samples."""
    k0s = []
    counts = []
    parts = []
    chans = 1
    rec = 0
    scale = fs_hz / 1e6
    for seq, fr in frames:
        _ft, _nid, enc, count, _seq, t0 = codec.header_fields(fr)
        chans = (enc >> 4) + 1
        k0s.append(int(round(t0 * scale)))
        counts.append(count)
        parts.append(fr[codec.HEADER_SIZE : len(fr) - codec.CRC_SIZE])
        if seq in recovered_seqs:
            rec += count
    flat = np.frombuffer(b"".join(parts), dtype="<i2")
    if chans > 1:
        flat = flat.reshape(-1, chans)[:, 0]  # interleaved: keep channel 0 (one muscle per node)
    return np.asarray(k0s, dtype=np.int64), np.asarray(counts, dtype=np.int64), flat, chans, rec


def decode_imu(frames, imu_hz):
    """[(seq, bytes)] IMU frames -> (node_us float64 (n,), raw int16 (n, 6))."""
    if not frames or not imu_hz:
        return np.zeros(0), np.zeros((0, 6), np.int16)
    ts = []
    parts = []
    step = 1e6 / imu_hz
    for _seq, fr in frames:
        _ft, _nid, _enc, count, _s, t0 = codec.header_fields(fr)
        j0 = int(round(t0 * imu_hz / 1e6))
        ts.append((j0 + np.arange(count)) * step)
        parts.append(fr[codec.HEADER_SIZE : len(fr) - codec.CRC_SIZE])
    raw = np.frombuffer(b"".join(parts), dtype="<i2").reshape(-1, 6)
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    t = t[order]
    raw = raw[order]
    keep = np.concatenate(([True], np.diff(t) > 0)) if len(t) else np.zeros(0, bool)
    return t[keep], raw[keep]


def decode_foot(frames):
    """[(seq, bytes)] FOOT frames -> [(node_us, input, level)]."""
    out = []
    for _seq, fr in frames:
        d = codec.decode_frame(fr)
        for off, inp, lvl in d["events"]:
            out.append((d["t0_us"] + off, inp, lvl))
    out.sort()
    return out


def decode_statuses(frames):
    """[(seq, bytes)] STATUS frames -> [(node_us, status dict)] in node-time order."""
    out = []
    for _seq, fr in frames:
        d = codec.decode_frame(fr)
        out.append((d["t0_us"], d))
    out.sort(key=lambda x: x[0])
    return out


def lead_off_spans(statuses):
    """Node-time spans [(start_us, end_us)] during which status frames flag lead-off.

    A span runs from the first flagged status to the next unflagged one (or
    the last status), so its resolution is the status period (about 1 s).
    """
    spans = []
    start = None
    for t, st in statuses:
        off = bool(st["flags"] & codec.F_LEAD_OFF)
        if off and start is None:
            start = t
        elif not off and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, statuses[-1][0]))
    return spans


TICK_WRAP_US = 1 << 30  # MicroPython's ticks_us period
LATE_FRAMES_PCT = 5.0  # consistent_exchanges: percentile of frame arrival - t0 taken as the frames' offset


def consistent_exchanges(nodelog, emg=None, tolerance_us=500_000):
    """Sync exchanges put on the same node time base as the data frames.

    A node extends a wrapping 30-bit tick counter to 64 bits; if that goes
    wrong its sync timestamps jump by multiples of 2**30 us while frame
    t0_us (from the sample counter) does not. Each exchange whose offset
    (t1 - t2) differs from the frames' offset (arrival - t0) by about a
    multiple of 2**30 is shifted back; one inconsistent by anything else
    (beyond tolerance_us) is dropped. Returns (rows, n_fixed, n_dropped).
    """
    rows = [tuple(int(v) for v in r) for r in nodelog.sync]
    emg_frames = nodelog.frames_of_type(codec.T_EMG)
    if not emg_frames:
        return rows, 0, 0
    offs = []
    for seq, fr in emg_frames[:: max(1, len(emg_frames) // 400)]:
        _ft, _nid, _enc, _count, _s, t0 = codec.header_fields(fr)
        offs.append(nodelog.recv_us[seq] - t0)
    # host - node, within a few connection intervals. A frame can reach the host late (a backlog
    # after a starved node or host, resends: seen, half the frames of every node 9 s late, which
    # put the median 9 s off and dropped every exchange) but never before its samples exist, so
    # the reference is a low percentile.
    ref = float(np.percentile(offs, LATE_FRAMES_PCT))
    out = []
    fixed = dropped = 0
    for t1, t2, t3, t4 in rows:
        d = (t1 - t2) - ref
        n = int(round(d / TICK_WRAP_US))
        if n:  # d = -2**30 when t2 is 2**30 too late: t2 += n * 2**30 puts it back
            t2 += n * TICK_WRAP_US
            t3 += n * TICK_WRAP_US
            fixed += 1
            d = (t1 - t2) - ref
        if abs(d) > tolerance_us:
            dropped += 1
            continue
        out.append((t1, t2, t3, t4))
    return out, fixed, dropped


def node_clock(nodelog, emg=None, lattice_drift_us_per_s=None):
    """ClockFit for a node: from its time-sync exchanges, else (flagged) from frame arrival times.

    lattice_drift_us_per_s: the connection events' drift shared by the session's nodes
    (`sync.common_lattice_drift`)."""
    if nodelog.sync:
        try:
            segs = nodelog.connection_segments() or None
            rows, fixed, dropped = consistent_exchanges(nodelog, emg)
            fit = fit_clock(rows, arrivals_us=nodelog.arrivals or None, segments_us=segs,
                            lattice_drift_us_per_s=lattice_drift_us_per_s)
            fit.stats["wrap_fixed_exchanges"] = fixed
            fit.stats["inconsistent_exchanges_dropped"] = dropped
            fit.stats["source"] = "sync"
            span = None
            if emg is not None and len(emg.k):
                span = (float(emg.k[0]) * 1e6 / emg.fs_hz, float(emg.k[-1]) * 1e6 / emg.fs_hz)
            syncquality.assess(rows, fit, nodelog.arrivals or None, segs, span,
                               lattice_drift_us_per_s=lattice_drift_us_per_s)  # uncertainty_us, unsure (docs/recording.md)
            return fit
        except ValueError:
            pass
    # No usable exchange: arrival time of each EMG frame's last sample bounds the offset from above.
    pairs = []
    for seq, fr in nodelog.frames_of_type(codec.T_EMG):
        _ft, _nid, _enc, count, _s, t0 = codec.header_fields(fr)
        if emg is not None:
            last = t0 + (count - 1) * 1e6 / emg.fs_hz
        else:
            last = t0
        pairs.append((last, nodelog.recv_us[seq] - last))
    if not pairs:
        return None
    off = min(p[1] for p in pairs)
    fit = ClockFit([int(pairs[0][0])], [off], {
        "source": "arrival_fallback", "exchanges": 0, "uncertainty_us": None, "unsure": True,
        "unsure_reasons": ["no usable time-sync exchange: clock from frame arrival times (off by up to a connection interval)"]})
    return fit
