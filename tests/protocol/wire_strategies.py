"""Hypothesis strategies for valid myowire frames of every type (shared by the wire tests)."""

import struct

from hypothesis import strategies as st

from myowire import codec

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
i16 = st.integers(-32768, 32767)
text16 = st.text(max_size=16).filter(lambda s: len(s.encode()) <= codec.MAX_LABEL)


def int16_values(n):
    """n int16 values drawn as raw bytes (much cheaper for hypothesis than a list of integers)."""
    return st.binary(min_size=2 * n, max_size=2 * n).map(lambda b: list(struct.unpack("<%dh" % n, b)))


@st.composite
def emg_frames(draw, channels=None, node_id=None):
    ch = draw(st.integers(1, 4)) if channels is None else channels
    max_count = min(codec.MAX_COUNT, (codec.MAX_FRAME - codec.OVERHEAD) // (2 * ch))
    count = draw(st.integers(1, max_count))
    samples = draw(int16_values(count * ch))
    nid = draw(u8) if node_id is None else node_id
    return codec.encode_emg(nid, draw(u32), draw(u64), samples, channels=ch)


@st.composite
def imu_frames(draw):
    n = draw(st.integers(1, 60))
    flat = draw(int16_values(n * 6))
    samples = [flat[i * 6 : i * 6 + 6] for i in range(n)]
    return codec.encode_imu(draw(u8), draw(u32), draw(u64), samples)


@st.composite
def foot_frames(draw):
    events = draw(st.lists(st.tuples(u32, u8, u8), min_size=1, max_size=40))
    return codec.encode_foot(draw(u8), draw(u32), draw(u64), events)


@st.composite
def status_frames(draw):
    st_ = {
        "battery_mv": draw(u16), "battery_pct": draw(st.integers(0, 100)), "flags": draw(u8),
        "firmware": [draw(u8), draw(u8), draw(u8)], "selftest": draw(u8), "emg_hz": draw(u16),
        "imu_hz": draw(u16), "highpass_hz": draw(u8), "powerline_hz": draw(u8), "nv_per_lsb": draw(u16),
        "overrun_samples": draw(u32), "oldest_seq": draw(u32), "filter_flags": draw(u8), "label": draw(text16),
    }
    return codec.encode_status(draw(u8), draw(u32), draw(u64), st_)


@st.composite
def sync_frames(draw):
    return codec.encode_sync_reply(draw(u8), draw(u32), draw(u64), draw(u64), draw(u64))


@st.composite
def ack_frames(draw):
    return codec.encode_ack(draw(u8), draw(u32), draw(u64), draw(u8), draw(u8), draw(u32), draw(st.text(max_size=80)))


@st.composite
def cmd_frames(draw):
    op = draw(st.sampled_from(sorted(codec.COMMAND_NAMES)))
    if op == codec.C_CONFIGURE:
        args = codec.configure_args(draw(u16), draw(u8), draw(u8), draw(u16), draw(text16), draw(u8), draw(u8))
    elif op == codec.C_RESEND:
        args = codec.resend_args(draw(u32), draw(u32))
    elif op == codec.C_IDENTIFY:
        args = bytes([draw(u8)])
    else:
        args = b""
    return codec.encode_command(draw(u8), draw(u32), draw(u64), op, args)


any_frame = st.one_of(emg_frames(), imu_frames(), foot_frames(), status_frames(), sync_frames(), ack_frames(), cmd_frames())
