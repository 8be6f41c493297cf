"""Frame store: newest frames kept contiguous by seq, byte-exact, eviction across pages."""

import random

from framestore import FrameStore
from fwt_helpers import eq


def _fill(st, seq, length):
    off = st.begin(length)
    buf = st.wbuf
    for i in range(length):
        buf[off + i] = (seq * 31 + i) & 0xFF
    return st.commit(length)


def _check_held(st):
    first = st.oldest_seq()
    for seq in range(first, st.next_seq):
        f = st.frame(seq)
        assert f is not None, "seq %d should be held" % seq
        for i in range(len(f)):
            if f[i] != (seq * 31 + i) & 0xFF:
                raise AssertionError("frame %d corrupted at byte %d" % (seq, i))
    eq(st.frame(first - 1) if first else None, None, "before oldest is gone")
    eq(st.frame(st.next_seq), None, "future frame")


def test_seq_numbers_and_exact_bytes():
    st = FrameStore(4096 * 3, 100, 4096)
    for s in range(30):
        eq(_fill(st, s, 244), s, "seq")
    _check_held(st)
    eq(st.oldest_seq(), 0, "nothing evicted yet")


def test_eviction_keeps_the_newest_contiguous_block():
    random.seed(3)
    st = FrameStore(4096 * 4, 400, 4096)
    held_min = 10 ** 9
    for s in range(3000):
        _fill(st, s, random.randint(18, 256))
        if s % 97 == 0:
            _check_held(st)
        if s > 500:
            held = sum([len(st.frame(q)) for q in range(st.oldest_seq(), st.next_seq)])
            held_min = min(held_min, held)
    _check_held(st)
    # at most one frame's worth is wasted at the end of each page, plus the one being replaced
    assert held_min >= st.capacity - 5 * 256, (held_min, st.capacity)
    eq(st.evicted, st.oldest_seq(), "evicted count")


def test_slot_limit_evicts_too():
    st = FrameStore(4096 * 2, 10, 4096)
    for s in range(25):
        _fill(st, s, 20)
    eq(st.count(), 10, "slots")
    eq(st.oldest_seq(), 15, "oldest")
    _check_held(st)


def test_offsets_are_even_for_int16_payloads():
    st = FrameStore(4096 * 2, 100, 4096)
    for s in range(200):
        off = st.begin(17 + (s % 3))
        assert off % 2 == 0, off
        st.commit(17 + (s % 3))
