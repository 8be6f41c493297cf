"""The numpy bulk decoder agrees with the reference decoder, frame by frame."""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "upy"))

import upy_wire_vectors as vec  # noqa: E402
from myostride import bulkdecode  # noqa: E402
from myowire import codec  # noqa: E402
from wire_strategies import any_frame, emg_frames  # noqa: E402


def reference(frames, channels=None):
    """What decode_emg_frames must return, built with codec.decode_frame one frame at a time."""
    acc, rej = [], []
    for i, f in enumerate(frames):
        try:
            d = codec.decode_frame(f)
        except codec.WireError as e:
            rej.append((i, str(e)))
            continue
        if d["type"] != "emg":
            rej.append((i, "not an EMG frame (%s)" % d["type"]))
            continue
        if channels is None:
            channels = d["channels"]
        if d["channels"] != channels:
            rej.append((i, "EMG frame with %d channels, this node has %d" % (d["channels"], channels)))
            continue
        acc.append((i, d))
    return acc, rej, channels


def assert_agrees(frames, channels=None):
    batch = bulkdecode.decode_emg_frames(frames, channels=channels)
    acc, rej, ch = reference(frames, channels)
    assert batch.rejected == rej
    assert len(batch) == len(acc)
    if acc:
        assert batch.channels == ch
    assert batch.frame_index.tolist() == [i for i, _ in acc]
    assert batch.seq.tolist() == [d["seq"] for _, d in acc]
    assert batch.t0_us.tolist() == [d["t0_us"] for _, d in acc]
    assert batch.node_id.tolist() == [d["node_id"] for _, d in acc]
    assert batch.counts.tolist() == [d["count"] for _, d in acc]
    assert batch.samples.dtype == np.int16 and batch.samples.shape == (sum(d["count"] for _, d in acc), batch.channels)
    for k, (_, d) in enumerate(acc):
        assert batch.frame_samples(k).ravel().tolist() == d["samples"]
    return batch


def test_every_vector():
    frames = [vec.load(e["name"])[0] for e in vec.load_index() if e["kind"] in ("frame", "fragments", "bad")]
    one_ch = [f for f in frames if not (f[:1] == b"\x11" and len(f) > 3 and f[2] >> 4)]
    b = assert_agrees(one_ch)
    assert len(b) >= 5 and len(b.rejected) >= 30
    two_ch = assert_agrees(frames, channels=2)
    assert len(two_ch) == 1


def test_bad_vectors_each_rejected_with_reference_message():
    for name in vec.names("bad"):
        frame, meta = vec.load(name)
        b = bulkdecode.decode_emg_frames([frame])
        assert len(b) == 0 and len(b.rejected) == 1
        assert meta["error"] in b.rejected[0][1], name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(emg_frames(channels=1, node_id=4), min_size=1, max_size=12), st.data())
def test_generated_frames_with_corruption(frames, data):
    frames = list(frames)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(frames) - 1))
        f = bytearray(frames[i])
        j = data.draw(st.integers(0, len(f) - 1))
        f[j] ^= 1 << data.draw(st.integers(0, 7))
        frames[i] = bytes(f)
    if data.draw(st.booleans()):
        frames.insert(data.draw(st.integers(0, len(frames))), data.draw(any_frame))
    assert_agrees(frames)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.data())
def test_generated_multichannel(ch, data):
    frames = data.draw(st.lists(emg_frames(channels=ch), min_size=1, max_size=8))
    assert_agrees(frames)


def test_uniform_stream_and_buffer_api():
    rng = np.random.default_rng(1)
    codes = rng.integers(-32768, 32768, size=(300, 113))
    frames = [codec.encode_emg(7, 1000 + i, i * 56_500, codes[i].tolist()) for i in range(300)]
    gap = 5  # frames stored with 5 junk bytes between them, as a log with record headers would
    buf = bytearray()
    offs = []
    for f in frames:
        buf += b"\xaa" * gap
        offs.append(len(buf))
        buf += f
    b = bulkdecode.decode_emg_buffer(bytes(buf), offs, [len(f) for f in frames])
    assert not b.rejected and len(b) == 300
    assert np.array_equal(b.samples[:, 0], codes.ravel())
    assert np.array_equal(b.seq, np.arange(1000, 1300)) and b.t0_us[-1] == 299 * 56_500
    assert np.array_equal(b.starts, np.arange(300) * 113)


def test_bad_crc_in_uniform_stream_is_reported_not_dropped_silently():
    frames = [codec.encode_emg(1, i, i, [i, -i]) for i in range(50)]
    f = bytearray(frames[17])
    f[18] ^= 0x80
    frames[17] = bytes(f)
    b = bulkdecode.decode_emg_frames(frames)
    assert [i for i, _ in b.rejected] == [17] and "CRC mismatch" in b.rejected[0][1]
    assert 17 not in b.frame_index.tolist() and len(b) == 49
    assert b.samples[:, 0].tolist() == [v for i in range(50) if i != 17 for v in (i, -i)]


def test_empty_and_bounds():
    b = bulkdecode.decode_emg_frames([])
    assert len(b) == 0 and b.samples.shape == (0, 1) and b.rejected == []
    with pytest.raises(ValueError, match="outside the buffer"):
        bulkdecode.decode_emg_buffer(b"\x00" * 10, [5], [18])


def test_crc_rows_odd_lengths_match_reference():
    rng = np.random.default_rng(3)
    for L in (18, 19, 21, 244, 245):
        rows = rng.integers(0, 256, size=(20, L), dtype=np.uint8)
        for r in rows:
            c = codec.crc16_py(bytes(r[:-2]))
            r[-2], r[-1] = c & 0xFF, c >> 8
        rows[3, 5] ^= 1
        got = bulkdecode._crc_rows(rows, L)
        assert got.tolist() == [i != 3 for i in range(20)]


def test_channel_count_comes_from_first_valid_frame():
    bad2 = bytearray(codec.encode_emg(1, 0, 0, [1, 2, 3, 4], channels=2))
    bad2[-1] ^= 1  # corrupt: must not decide the channel count
    frames = [bytes(bad2)] + [codec.encode_emg(1, i, i, [i] * 4) for i in range(1, 4)] + [codec.encode_emg(1, 9, 9, [5, 6], channels=2)]
    b = assert_agrees(frames)
    assert b.channels == 1 and [i for i, _ in b.rejected] == [0, 4]


def test_sample_node_us_follows_frame_t0():
    frames = [codec.encode_emg(1, 0, 1_000_000, [1, 2, 3]), codec.encode_emg(1, 1, 1_001_500, [4, 5]),
              codec.encode_emg(1, 2, 5_000_000, [6])]
    b = bulkdecode.decode_emg_frames(frames)
    t = bulkdecode.sample_node_us(b, 2000)
    assert t.tolist() == [1_000_000, 1_000_500, 1_001_000, 1_001_500, 1_002_000, 5_000_000]
    assert bulkdecode.sample_node_us(bulkdecode.decode_emg_frames([]), 2000).shape == (0,)
