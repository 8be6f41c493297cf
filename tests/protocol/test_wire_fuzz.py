"""Hypothesis: the reference decoder raises only WireError on any input, valid
frames round-trip byte for byte, and lossy fragment reassembly never passes a
corrupt frame off as valid."""

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from myowire import codec
from wire_strategies import any_frame, emg_frames

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LISTS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def probe(frame):
    """decode_frame's verdict; on success the frame must re-encode identically."""
    try:
        d = codec.decode_frame(frame)
    except codec.WireError:
        with pytest.raises(codec.WireError):
            codec.check_frame(frame)
        return None
    assert codec.check_frame(frame)[4] == d["seq"]
    assert codec.encode_dict(d) == bytes(frame)
    return d


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_wire_error(data):
    probe(data)


@FAST
@given(st.binary(min_size=2, max_size=300), st.integers(1, 7))
def test_random_bodies_with_valid_crc_raise_only_wire_error(body, ftype):
    """Random payloads behind a plausible header byte and a correct CRC reach every length rule."""
    frame = bytearray([0x10 | ftype]) + body
    c = codec.crc16(frame)
    probe(bytes(frame) + bytes([c & 0xFF, c >> 8]))


@FAST
@given(any_frame)
def test_generated_frames_round_trip(frame):
    assert probe(frame) is not None


@FAST
@given(any_frame, st.data())
def test_mutated_frames_raise_only_wire_error(frame, data):
    f = bytearray(frame)
    how = data.draw(st.sampled_from(["flip", "cut", "grow", "byte"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(f) - 1))
        f[i] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "cut":
        f = f[: data.draw(st.integers(0, len(f) - 1))]
    elif how == "grow":
        f += data.draw(st.binary(min_size=1, max_size=8))
    else:
        f[data.draw(st.integers(0, len(f) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()) and len(f) >= 2:  # reseal: the checks behind the CRC must catch it
        c = codec.crc16(bytes(f[:-2]))
        f[-2], f[-1] = c & 0xFF, c >> 8
    d = probe(bytes(f))
    if d is None or bytes(f) == frame:
        return
    # A resealed mutation can only be valid if it is a different, self-consistent frame.
    assert codec.encode_dict(d) == bytes(f)


@LISTS
@given(st.lists(any_frame, min_size=1, max_size=6), st.integers(23, 260))
def test_fragment_reassemble_round_trip(frames, mtu):
    r = codec.Reassembler()
    out = []
    for f in frames:
        for note in codec.fragment(f, mtu - 3):
            assert len(note) <= mtu - 3
            got = r.feed(note)
            if got is not None:
                out.append(got)
    assert out == frames and r.dropped == 0


@LISTS
@given(st.lists(any_frame, min_size=1, max_size=8), st.integers(23, 60), st.data())
def test_reassembler_with_loss_never_yields_a_valid_corrupt_frame(frames, mtu, data):
    notes = [n for f in frames for n in codec.fragment(f, mtu - 3)]
    keep = data.draw(st.lists(st.booleans(), min_size=len(notes), max_size=len(notes)))
    assume(not all(keep))
    r = codec.Reassembler()
    for note, k in zip(notes, keep):
        if not k:
            continue
        got = r.feed(note)
        if got is None:
            continue
        if got in frames:
            continue
        # A spliced frame may come out of the reassembler, but the frame checks must reject it.
        with pytest.raises(codec.WireError):
            codec.check_frame(got)


@LISTS
@given(st.lists(emg_frames(channels=1), min_size=1, max_size=5))
def test_lossless_delivery_drops_nothing(frames):
    r = codec.Reassembler()
    got = [x for f in frames for n in codec.fragment(f, 20) for x in [r.feed(n)] if x is not None]
    assert got == frames


def test_utf8_validator_agrees_with_cpython():
    import random

    rnd = random.Random(7)
    alphabet = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x9F, 0xA0, 0x8F, 0x90]
    for _ in range(20000):
        b = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 5)))
        try:
            b.decode()
            want = True
        except UnicodeDecodeError:
            want = False
        assert codec.utf8_valid(b, 0, len(b)) == want, b


def test_encoders_refuse_out_of_range_fields():
    """MicroPython's struct truncates silently; the encoders must refuse instead."""
    with pytest.raises(codec.WireError, match="count 300"):
        codec.encode_emg(1, 0, 0, [0] * 300)
    with pytest.raises(codec.WireError, match="outside int16"):
        codec.encode_emg(1, 0, 0, [40000])
    with pytest.raises(codec.WireError, match="seq"):
        codec.encode_emg(1, 1 << 32, 0, [0])
    with pytest.raises(codec.WireError, match="battery_pct"):
        codec.encode_status(1, 0, 0, {"battery_pct": 101})
    with pytest.raises(codec.WireError, match="do not split"):
        codec.encode_emg(1, 0, 0, [0, 0, 0], channels=2)
    assert len(codec.decode_frame(codec.encode_ack(1, 0, 0, 1, 0, 0, "é" * 40))["message"].encode()) <= codec.MAX_MESSAGE
