"""Codec helpers that must give the same answers under `micropython` and CPython."""

from myowire import codec


def _eq(a, b, what):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))


def test_seq_diff_wraps():
    _eq(codec.seq_diff(5, 3), 2, "plain")
    _eq(codec.seq_diff(3, 5), -2, "negative")
    _eq(codec.seq_diff(0, 0xFFFFFFFF), 1, "across the wrap")
    _eq(codec.seq_diff(0xFFFFFFFF, 0), -1, "back across the wrap")
    _eq(codec.seq_diff(0x80000000, 0), -0x80000000, "half way")


def test_frame_plan_matches_spec_table():
    table = {23: (117, 14, 280), 27: (112, 11, 264), 185: (82, 1, 182), 247: (113, 1, 244), 512: (245, 1, 508)}
    for mtu in table:
        n = codec.emg_samples_for_mtu(mtu)
        k, air = codec.notifications_for(codec.OVERHEAD + 2 * n, mtu)
        _eq((n, k, air), table[mtu], "MTU %d" % mtu)


def test_fragment_index_wraps_past_255():
    frame = codec.encode_emg(1, 2, 3, list(range(-250, 250)), channels=2)  # 1018 bytes
    parts = codec.fragment(frame, 5)  # 3 frame bytes per notification: 340 fragments
    if len(parts) <= 256:
        raise AssertionError("test needs more than 256 fragments, got %d" % len(parts))
    _eq(parts[256][1], 0, "index after 255")
    r = codec.Reassembler()
    out = None
    for p in parts:
        out = r.feed(p)
    _eq(out, frame, "reassembled across the index wrap")
    _eq(r.dropped, 0, "dropped")


def test_reassembler_rejects_oversize():
    r = codec.Reassembler(max_frame=40)
    frame = codec.encode_emg(1, 2, 3, [0] * 30)  # 78 bytes
    outs = [r.feed(p) for p in codec.fragment(frame, 20)]
    _eq([o for o in outs if o is not None], [], "no oversize frame delivered")
    if r.dropped < 1:
        raise AssertionError("oversize frame not counted as dropped")


def test_encoders_refuse_what_struct_would_truncate():
    cases = (
        lambda: codec.encode_emg(1, 0, 0, [0] * 256),
        lambda: codec.encode_emg(256, 0, 0, [0]),
        lambda: codec.encode_emg(1, -1, 0, [0]),
        lambda: codec.encode_emg(1, 0, 0, [32768]),
        lambda: codec.encode_status(1, 0, 0, {"emg_hz": 70000}),
        lambda: codec.encode_ack(1, 0, 0, 1, 0, 1 << 32),
        lambda: codec.resend_args(0, 1 << 32),
        lambda: codec.configure_args(2000, 300, 0, 0),
    )
    for i, fn in enumerate(cases):
        try:
            fn()
        except codec.WireError:
            continue
        raise AssertionError("case %d encoded without error" % i)
