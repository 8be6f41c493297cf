"""Bad input must never crash the node: under `micropython`, feed the decoder
random bytes, mutated valid frames and the bad vectors; only WireError may
come out, and any frame that passes must re-encode to the same bytes."""

from myowire import codec

import upy_wire_vectors as vec

_state = [12345]


def _rand():
    """Deterministic 32-bit LCG: the same cases on every run and both interpreters."""
    _state[0] = (1664525 * _state[0] + 1013904223) & 0xFFFFFFFF
    return _state[0]


def _rand_bytes(n):
    b = bytearray(n)
    for i in range(n):
        b[i] = _rand() >> 24
    return b


def _reseal(buf):
    """Give a mutated frame a correct CRC so the checks behind the CRC are reached."""
    if len(buf) >= codec.OVERHEAD:
        c = codec.crc16(memoryview(buf)[0 : len(buf) - 2])
        buf[len(buf) - 2] = c & 0xFF
        buf[len(buf) - 1] = c >> 8
    return buf


def _probe(frame):
    """Decode; return 1 if valid, 0 if WireError. Anything else propagates and fails the test."""
    try:
        d = codec.decode_frame(frame)
    except codec.WireError:
        try:
            codec.check_frame(frame)
        except codec.WireError:
            return 0
        raise AssertionError("check_frame accepts what decode_frame rejects: %r" % bytes(frame))
    codec.check_frame(frame)
    again = codec.encode_dict(d)
    if again != bytes(frame):
        raise AssertionError("valid frame re-encodes differently: %r -> %r" % (bytes(frame), again))
    return 1


def _valid_frames():
    return [vec.load(n)[0] for n in vec.names("frame")]


def test_bad_vectors_only_wire_error():
    for n in vec.names("bad"):
        if _probe(vec.load(n)[0]):
            raise AssertionError(n + " decoded without error")


def test_random_bytes_only_wire_error():
    for i in range(1500):
        n = _rand() % 80
        buf = _rand_bytes(n)
        if n > 0 and i % 2:
            buf[0] = 0x10 | (_rand() % 8)  # a plausible version/type byte
        if i % 3 == 0:
            _reseal(buf)
        _probe(buf)


def test_mutated_frames_only_wire_error():
    frames = _valid_frames()
    passed = 0
    for i in range(3000):
        f = bytearray(frames[i % len(frames)])
        kind = _rand() % 5
        if kind == 0:  # flip one bit
            pos = _rand() % len(f)
            f[pos] ^= 1 << (_rand() % 8)
        elif kind == 1:  # truncate
            f = f[: _rand() % len(f)]
        elif kind == 2:  # append bytes
            f = f + _rand_bytes(1 + _rand() % 8)
        elif kind == 3:  # random header byte
            f[_rand() % 16] = _rand() >> 24
        else:  # random payload byte
            if len(f) > 18:
                f[16 + _rand() % (len(f) - 18)] = _rand() >> 24
        if i % 2:
            _reseal(f)
        passed += _probe(f)
    if passed == 0:
        raise AssertionError("no mutated frame stayed valid: the mutations are too coarse")


def test_reassembler_random_notes_only_valid_or_wire_error():
    r = codec.Reassembler()
    frames = _valid_frames()
    for i in range(1500):
        if i % 4 == 0:
            note = _rand_bytes(_rand() % 24)
            if len(note) and i % 8 == 0:
                note[0] = 0xF0 | (_rand() % 4)
        else:
            parts = codec.fragment(frames[_rand() % len(frames)], 20)
            note = parts[_rand() % len(parts)]
        out = r.feed(note)
        if out is not None:
            _probe(out)
    if len(r.buf) > r.max_frame:
        raise AssertionError("reassembly buffer grew past max_frame")


def test_bad_input_does_not_grow_the_heap():
    """Rejecting frames leaves nothing behind: after many rejections the live heap is unchanged."""
    import gc

    bad = [vec.load(n)[0] for n in vec.names("bad")]
    big = bytearray(codec.MAX_FRAME + 100)

    def reject_all():
        for f in bad + [big, memoryview(big)[0 : codec.MAX_FRAME]]:
            try:
                codec.check_frame(f)
            except codec.WireError:
                pass

    reject_all()  # warm-up: interned strings, struct caches
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    for _ in range(20):
        reject_all()
    gc.collect()
    after = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    if after - before > 512:
        raise AssertionError("live heap grew by %d bytes while rejecting frames" % (after - before))
