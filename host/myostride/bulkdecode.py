"""Vectorised decoding of many EMG frames at once (numpy).

The reference decoder (myowire.codec.decode_frame) handles one frame per
Python call; a 10-minute, 12-node session has ~130k EMG frames, so the
session loader decodes each node's frames here in a few array operations.
The result must equal the reference decoder's on every frame: the same
validity rules (version, type, format, count, length, CRC-16/CCITT-FALSE)
and the same values. Invalid frames are never dropped silently: each is
listed in `EmgBatch.rejected` with the reference decoder's error message.

Two entry points:
  decode_emg_frames(frames)                 a list of frame bytes
  decode_emg_buffer(buf, offsets, lengths)  frames stored back to back in one
                                            buffer (e.g. a raw log read whole)
and sample_node_us(batch, emg_hz) for the node-clock time of every sample.

Typical use by a session loader (one node, frames unique by seq):
    batch = decode_emg_frames([f for _seq, f in node_log.frames_of_type(codec.T_EMG)])
    uv = batch.samples[:, 0] * (nv_per_lsb / 1000.0)
    t_node_us = sample_node_us(batch, emg_hz)
    for index, reason in batch.rejected: ...report, never drop silently
"""

import numpy as np

from myowire import codec

_CHUNK_FRAMES = 16384  # frames per vectorised step: bounds temporary memory (~10 MB)


_BYTE_TABLE = np.array(codec.CRC_TABLE, dtype=np.uint16)


def _crc_word_table():
    """CRC-16/CCITT-FALSE state after feeding 16 zero bits from state x, for all x
    (two zero bytes through the codec's byte table).

    The CRC is linear, so feeding the big-endian word w from state c gives
    table[c ^ w]: two bytes per table lookup.
    """
    c = np.arange(65536, dtype=np.uint32)
    for _ in range(2):
        c = ((c << 8) & 0xFFFF) ^ _BYTE_TABLE[c >> 8]
    return c.astype(np.uint16)


_WORD_TABLE = _crc_word_table()


class EmgBatch:
    """Decoded EMG frames of one node, in input order.

    Per accepted frame (arrays of equal length): frame_index (position in the
    input), node_id, seq, t0_us, counts (samples per channel), starts (row of
    its first sample in `samples`). `samples` is int16 of shape
    (sum(counts), channels): raw ADC codes, LSB = the status frame's
    nv_per_lsb. `rejected` is a list of (input index, reason).
    """

    __slots__ = ("frame_index", "node_id", "seq", "t0_us", "counts", "starts", "samples", "channels", "rejected")

    def __init__(self, frame_index, node_id, seq, t0_us, counts, samples, channels, rejected):
        self.frame_index = frame_index
        self.node_id = node_id
        self.seq = seq
        self.t0_us = t0_us
        self.counts = counts
        self.starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64) if len(counts) else np.zeros(0, np.int64)
        self.samples = samples
        self.channels = channels
        self.rejected = rejected

    def __len__(self):
        return len(self.seq)

    def frame_samples(self, i):
        """Samples of accepted frame i, shape (counts[i], channels)."""
        s = self.starts[i]
        return self.samples[s : s + self.counts[i]]

    def __repr__(self):
        return "EmgBatch(%d frames, %d samples x %d channels, %d rejected)" % (
            len(self), len(self.samples), self.channels, len(self.rejected))


def decode_emg_frames(frames, channels=None):
    """Decode a sequence of EMG frames (bytes-like) of one node; see EmgBatch."""
    lengths = np.fromiter((len(f) for f in frames), dtype=np.int64, count=len(frames))
    offsets = np.zeros(len(frames), dtype=np.int64)
    if len(frames) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    return decode_emg_buffer(b"".join(frames), offsets, lengths, channels=channels)


def decode_emg_buffer(buf, offsets, lengths, channels=None):
    """Decode frames stored at buf[offsets[i] : offsets[i] + lengths[i]].

    channels: the node's EMG channel count; frames with another count are
    rejected. None takes it from the first valid EMG frame.
    """
    data = np.frombuffer(buf, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if offsets.shape != lengths.shape or offsets.ndim != 1:
        raise ValueError("offsets and lengths must be 1-D arrays of the same length")
    n = len(offsets)
    if n and (offsets.min() < 0 or lengths.min() < 0 or (offsets + lengths).max() > len(data)):
        raise ValueError("a frame lies outside the buffer (offset + length > %d bytes)" % len(data))

    # Header checks for every frame at once (same rules, same order of precedence
    # does not matter here: a frame is accepted only if all pass).
    ok = (lengths >= codec.OVERHEAD) & (lengths <= codec.MAX_FRAME)
    hdr = np.zeros((n, codec.HEADER_SIZE), dtype=np.uint8)
    if ok.any():
        hdr[ok] = np.lib.stride_tricks.sliding_window_view(data, codec.HEADER_SIZE)[offsets[ok]]
    enc = hdr[:, 2]
    count = hdr[:, 3].astype(np.int64)
    ch = (enc >> 4).astype(np.int64) + 1
    ok &= (hdr[:, 0] == ((codec.VERSION << 4) | codec.T_EMG)) & ((enc & 0x0F) == codec.FMT_I16) & (count > 0)
    ok &= lengths == codec.OVERHEAD + 2 * count * ch

    # CRC and samples of the candidates, grouped by frame length.
    cand = np.flatnonzero(ok)
    nvals = count[cand] * ch[cand]
    vstart = np.zeros(len(cand), dtype=np.int64)
    if len(cand) > 1:
        np.cumsum(nvals[:-1], out=vstart[1:])
    values = np.empty(int(nvals.sum()), dtype=np.int16)
    crc_good = np.zeros(len(cand), dtype=bool)
    cand_len = lengths[cand]
    distinct = np.unique(cand_len)
    for L in distinct:
        L = int(L)
        sel = np.arange(len(cand)) if len(distinct) == 1 else np.flatnonzero(cand_len == L)
        windows = np.lib.stride_tricks.sliding_window_view(data, L)
        v = (L - codec.OVERHEAD) // 2
        for a in range(0, len(sel), _CHUNK_FRAMES):
            s = sel[a : a + _CHUNK_FRAMES]
            rows = windows[offsets[cand[s]]]
            crc_good[s] = _crc_rows(rows, L)
            vals = np.ascontiguousarray(rows[:, codec.HEADER_SIZE : L - codec.CRC_SIZE]).view("<i2")
            if s[-1] - s[0] == len(s) - 1:  # consecutive candidates: one contiguous slice
                values[vstart[s[0]] : vstart[s[0]] + len(s) * v] = vals.ravel()
            else:
                values[(vstart[s][:, None] + np.arange(v)).ravel()] = vals.ravel()
    if channels is None:  # the node's channel count: from its first valid frame
        good = cand[crc_good]
        channels = int(ch[good[0]]) if len(good) else 1
    keep = crc_good & (ch[cand] == channels)
    ok[cand] = keep

    idx = np.flatnonzero(ok)
    head = hdr[idx]
    seq = head[:, 4:8].copy().view("<u4").ravel()
    t0 = head[:, 8:16].copy().view("<u8").ravel()
    if not keep.all():
        values = values[np.repeat(keep, nvals)]
    rejected = [(int(i), _reason(bytes(data[offsets[i] : offsets[i] + lengths[i]]), channels)) for i in np.flatnonzero(~ok)]
    return EmgBatch(idx, head[:, 1].copy(), seq, t0, count[idx], values.reshape(-1, channels), channels, rejected)


def _crc_rows(rows, L):
    """CRC-16/CCITT-FALSE check of equal-length frames (one per row): column-wise,
    two bytes per table lookup. Returns a bool per row."""
    body = L - codec.CRC_SIZE
    words = body // 2
    w = (rows[:, 0 : 2 * words : 2].astype(np.uint16) << 8) | rows[:, 1 : 2 * words : 2]
    w = np.ascontiguousarray(w.T)
    crc = np.full(len(rows), 0xFFFF, dtype=np.uint16)
    for j in range(words):
        crc = _WORD_TABLE[crc ^ w[j]]
    if body % 2:
        last = rows[:, body - 1].astype(np.uint16)
        crc = ((crc << 8) & 0xFFFF) ^ _BYTE_TABLE[((crc >> 8) ^ last) & 0xFF]
    got = rows[:, body].astype(np.uint16) | (rows[:, body + 1].astype(np.uint16) << 8)
    return crc == got


def _reason(frame, channels):
    """Why one frame was not accepted, in the reference decoder's words."""
    try:
        ftype, _node, enc, _count, _seq, _t0 = codec.check_frame(frame)
    except codec.WireError as e:
        return str(e)
    if ftype != codec.T_EMG:
        return "not an EMG frame (%s)" % codec.TYPE_NAMES[ftype]
    return "EMG frame with %d channels, this node has %d" % ((enc >> 4) + 1, channels)


def sample_node_us(batch, emg_hz):
    """Node-clock time (float64 microseconds) of every sample row of a batch:
    the frame's t0_us plus i x 1e6 / emg_hz for its i-th sample (SPEC.md 5.1)."""
    counts = batch.counts
    if len(counts) == 0:
        return np.zeros(0)
    t0 = np.repeat(batch.t0_us.astype(np.float64), counts)
    i = np.arange(int(counts.sum()), dtype=np.float64) - np.repeat(batch.starts, counts)
    return t0 + i * (1e6 / emg_hz)
