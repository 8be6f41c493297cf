"""Ring buffer: wrap-around, overrun recorded as gaps, exact sample accounting."""

import random
import struct

from ring import Ring
from fwt_helpers import eq


def _take_all(r, out, maxn=64):
    vals = []
    while True:
        n = r.take(out, 0, maxn)
        if not n:
            return vals
        vals.extend(struct.unpack_from("<%dh" % n, out, 0))


def test_wraps_in_order():
    r = Ring(8)
    eq(r.capacity, 8, "capacity")
    out = bytearray(64)
    k = 0
    got = []
    for rnd in range(50):
        for _ in range(rnd % 8 + 1):
            eq(r.put(k - 300), 1, "stored")
            k += 1
        got.extend(_take_all(r, out, 3))
    eq(got, list(range(-300, k - 300)), "values")
    eq(r.lost_total(), 0, "lost")


def test_capacity_rounds_to_power_of_two():
    eq(Ring(1000).capacity, 1024, "capacity")


def test_overrun_is_a_gap_not_silent():
    r = Ring(8)
    out = bytearray(64)
    for v in range(11):
        r.put(v)
    eq(r.lost_total(), 3, "lost")
    eq(r.pop_gap(), 0, "gap is after the stored data")
    eq(_take_all(r, out), list(range(8)), "kept")
    eq(r.pop_gap(), 3, "gap length")
    eq(r.pop_gap(), 0, "gap consumed")
    r.put(11)
    eq(_take_all(r, out), [11], "after gap")


def test_random_schedule_accounts_for_every_sample():
    """Producer writes k; the consumer rebuilds k from takes and gaps: never off by one."""
    random.seed(7)
    r = Ring(16)
    out = bytearray(64)
    k_put = 0
    k_seen = 0
    gaps = 0
    for _ in range(3000):
        for _ in range(random.randint(0, 12)):
            r.put(k_put & 0x3FFF)
            k_put += 1
        for _ in range(random.randint(0, 2)):
            n = r.take(out, 0, random.randint(1, 20))
            for i in range(n):
                eq(struct.unpack_from("<h", out, 2 * i)[0], k_seen & 0x3FFF, "sample value at k=%d" % k_seen)
                k_seen += 1
            if n == 0:
                lost = r.pop_gap()
                if lost:
                    gaps += 1
                    k_seen += lost
    while True:
        n = r.take(out, 0, 32)
        k_seen += n
        lost = r.pop_gap()
        k_seen += lost
        if not n and not lost:
            break
    eq(k_seen, k_put, "every sample either read or counted lost")
    assert gaps > 10, "schedule should have overrun often (%d gaps)" % gaps
    assert r.lost_total() > 0


def test_full_gap_queue_drops_and_counts():
    """More overrun episodes than gap slots: later samples are dropped, yet every
    index is still accounted for (read, or inside a recorded gap)."""
    r = Ring(4)
    out = bytearray(64)
    k = 0
    k_seen = 0

    def consume(maxn, pop):
        nonlocal k_seen
        n = r.take(out, 0, maxn)
        for i in range(n):
            eq(struct.unpack_from("<h", out, 2 * i)[0], k_seen, "value at k")
            k_seen += 1
        if pop and not n:
            k_seen += r.pop_gap()
        return n

    for _ in range(12):  # fill, overflow by one, then free a single slot
        while r.put(k):
            k += 1
        k += 1
        consume(1, False)
    assert r.lost_total() >= 12, r.lost_total()
    while consume(3, True) or r.count():
        pass
    k_seen += r.pop_gap()
    eq(k_seen, k, "all indices accounted")


def test_records_of_six_values():
    r = Ring(4, 6)
    rec = bytearray(12)
    for j in range(5):
        struct.pack_into("<6h", rec, 0, j, -j, 2 * j, 3, 4, -32768)
        r.put_record(rec, 0)
    eq(r.lost_total(), 1, "fifth record dropped")
    out = bytearray(12 * 8)
    n = r.take(out, 0, 8)
    eq(n, 4, "records")
    eq(list(struct.unpack_from("<6h", out, 12 * 3)), [3, -3, 6, 3, 4, -32768], "record 3")
    eq(r.pop_gap(), 1, "gap")


def test_full_scale_values_counted_as_clipping():
    r = Ring(8)
    for v in (0, 32767, -32768, 5, 32766):
        r.put(v)
    eq(r.take_clipped(), 2, "clipped")
    eq(r.take_clipped(), 0, "cleared")
