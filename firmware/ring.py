"""Preallocated single-producer / single-consumer sample ring.

The producer is the data-ready interrupt (or the simulated board calling the
same `put`); the consumer is the node's main loop. Nothing allocates per
sample. When the ring is full the sample is dropped and the loss is recorded
as a gap (position, length) so the consumer can keep sample indices, and
therefore timestamps, exact: overrun is counted and flagged, never silent.

Records are `width` int16 values (1 for EMG, 6 for the IMU). Indices run over
[0, 2*capacity) so full and empty differ without a separate flag; the gap queue
holds up to _GAPS entries, and while it is full every new record is counted
into the last gap (which then ends exactly at the write index), so no loss
ever goes unrecorded.
"""

import micropython
from micropython import const

_WR = const(0)  # write index (records, mod 2*cap)
_RD = const(1)  # read index
_CAP = const(2)  # capacity in records (power of two)
_W = const(3)  # record width in int16 values
_LOST = const(4)  # records dropped since boot
_CLIP = const(5)  # raw values at the ADC's full scale since last clear
_GWR = const(6)  # gap queue write counter
_GRD = const(7)  # gap queue read counter
_GQ = const(8)  # gap queue: _GAPS pairs (position, length)
_GAPS = const(8)
_STATE_WORDS = const(8 + 2 * 8)


@micropython.viper
def _put(buf, st, v: int) -> int:
    """Append one width-1 record; returns 1 if stored, 0 if dropped."""
    s = ptr32(st)
    wr = s[_WR]
    cap = s[_CAP]
    if v >= 32767 or v <= -32768:
        s[_CLIP] = s[_CLIP] + 1
    used = (wr - s[_RD]) & (2 * cap - 1)
    if used >= cap or s[_GWR] - s[_GRD] >= _GAPS:
        _drop(st, wr)
        return 0
    p = ptr16(buf)
    p[wr & (cap - 1)] = v
    s[_WR] = (wr + 1) & (2 * cap - 1)
    return 1


@micropython.viper
def _drop(st, wr: int):
    """Record one dropped record at write index wr (extends the last gap if it ends there)."""
    s = ptr32(st)
    s[_LOST] = s[_LOST] + 1
    gq = s[_GWR] - s[_GRD]
    if gq > 0:
        last = _GQ + 2 * ((s[_GWR] - 1) & (_GAPS - 1))
        if s[last] == wr:
            s[last + 1] = s[last + 1] + 1
            return
    # gq < _GAPS here: a full queue always ends with a gap at wr
    slot = _GQ + 2 * (s[_GWR] & (_GAPS - 1))
    s[slot] = wr
    s[slot + 1] = 1
    s[_GWR] = s[_GWR] + 1


@micropython.viper
def _put_rec(buf, st, src, soff: int) -> int:
    """Append one record of `width` int16 values from src at byte offset soff."""
    s = ptr32(st)
    wr = s[_WR]
    cap = s[_CAP]
    used = (wr - s[_RD]) & (2 * cap - 1)
    if used >= cap or s[_GWR] - s[_GRD] >= _GAPS:
        _drop(st, wr)
        return 0
    w = s[_W]
    p = ptr16(buf)
    q = ptr16(src)
    base = (wr & (cap - 1)) * w
    j = soff >> 1
    i = 0
    while i < w:
        p[base + i] = q[j + i]
        i += 1
    s[_WR] = (wr + 1) & (2 * cap - 1)
    return 1


@micropython.viper
def _take(buf, st, dst, doff: int, maxn: int) -> int:
    """Copy up to maxn records to dst (byte offset doff), stopping at a gap."""
    s = ptr32(st)
    cap = s[_CAP]
    m2 = 2 * cap - 1
    rd = s[_RD]
    n = (s[_WR] - rd) & m2
    if s[_GWR] != s[_GRD]:
        gpos = s[_GQ + 2 * (s[_GRD] & (_GAPS - 1))]
        to_gap = (gpos - rd) & m2
        if to_gap < n:
            n = to_gap
    if n > maxn:
        n = maxn
    if n <= 0:
        return 0
    w = s[_W]
    p = ptr16(buf)
    q = ptr16(dst)
    j = doff >> 1
    k = 0
    while k < n:
        base = ((rd + k) & (cap - 1)) * w
        i = 0
        while i < w:
            q[j] = p[base + i]
            j += 1
            i += 1
        k += 1
    s[_RD] = (rd + n) & m2
    return n


@micropython.viper
def _pop_gap(st) -> int:
    """If the next unread record is a gap, remove it and return its length."""
    s = ptr32(st)
    if s[_GWR] == s[_GRD]:
        return 0
    slot = _GQ + 2 * (s[_GRD] & (_GAPS - 1))
    if s[slot] != s[_RD]:
        return 0
    n = s[slot + 1]
    s[_GRD] = s[_GRD] + 1
    return n


@micropython.viper
def _count(st) -> int:
    s = ptr32(st)
    return (s[_WR] - s[_RD]) & (2 * s[_CAP] - 1)


class Ring:
    """capacity: records (rounded up to a power of two); width: int16 per record."""

    def __init__(self, capacity, width=1):
        cap = 1
        while cap < capacity:
            cap <<= 1
        self.capacity = cap
        self.width = width
        self.buf = bytearray(2 * width * cap)
        self.st = bytearray(4 * _STATE_WORDS)
        s = memoryview(self.st)
        _set(s, _CAP, cap)
        _set(s, _W, width)

    def put(self, v):
        """Producer (width 1): the data-ready interrupt path. No allocation."""
        return _put(self.buf, self.st, v)

    def put_record(self, src, offset=0):
        """Producer: one record of `width` int16 from src at byte offset."""
        return _put_rec(self.buf, self.st, src, offset)

    def take(self, dst, offset, max_records):
        """Consumer: copy up to max_records contiguous records; 0 at a gap or empty."""
        return _take(self.buf, self.st, dst, offset, max_records)

    def pop_gap(self):
        """Consumer: records lost at the read position (0 if none); removes that gap."""
        return _pop_gap(self.st)

    def count(self):
        return _count(self.st)

    def lost_total(self):
        return _get(self.st, _LOST)

    def take_clipped(self):
        """Full-scale values seen since the last call (and clear the count)."""
        n = _get(self.st, _CLIP)
        _set(self.st, _CLIP, 0)
        return n

    def reset(self):
        """Discard everything (consumer side, with the producer quiet)."""
        for i in (_WR, _RD, _LOST, _CLIP, _GWR, _GRD):
            _set(self.st, i, 0)


@micropython.viper
def _get(st, i: int) -> int:
    return ptr32(st)[i]


@micropython.viper
def _set(st, i: int, v: int):
    p = ptr32(st)
    p[i] = v
