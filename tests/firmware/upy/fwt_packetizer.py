"""Packetiser: frames decode with the shared codec; sizes follow the MTU; timestamps exact."""

import struct

from myowire import codec

from framestore import FrameStore
from packetizer import Packetizer, SampleClock, imu_samples_for_mtu
from fwt_helpers import eq


def _stage(n):
    b = bytearray(2 * n)
    for i in range(n):
        struct.pack_into("<h", b, 2 * i, (i * 997) % 65536 - 32768)
    return b


def test_emg_frames_decode_at_mtu_247_and_23():
    for mtu, whole in ((247, True), (23, False)):
        n = codec.emg_samples_for_mtu(mtu)
        st = FrameStore(8192, 50)
        pk = Packetizer(st, 9)
        stage = _stage(n)
        t = SampleClock(2000)
        seq = pk.emg_frame(stage, n, t.at(12345))
        f = st.frame(seq)
        d = codec.decode_frame(f)
        eq(d["type"], "emg", "type")
        eq(d["node_id"], 9, "node")
        eq(d["count"], n, "count")
        eq(d["t0_us"], 12345 * 1000000 // 2000, "t0")
        eq(d["samples"], list(struct.unpack("<%dh" % n, stage)), "samples")
        eq(len(f) <= mtu - 3, whole, "fits one notification at MTU %d" % mtu)
        if not whole:
            parts = codec.fragment(f, mtu - 3)
            r = codec.Reassembler()
            out = [r.feed(p) for p in parts]
            eq(out[-1], f, "fragments reassemble")
    eq(codec.emg_samples_for_mtu(247), 113, "113 samples at MTU 247")


def test_timestamps_exact_at_1926_hz_for_large_indices():
    t = SampleClock(1926)
    for k in (0, 1, 1925, 1926, 123456, 10 ** 9 + 7, 2 ** 40 + 3):
        t.at(k)
        eq(t.s * 1000000 + t.us, k * 1000000 // 1926, "k=%d" % k)


def test_timestamps_with_an_epoch():
    t = SampleClock(1926, 1000, 123456789)
    for k in (1000, 1001, 2925, 2926, 10 ** 7 + 11):
        t.at(k)
        eq(t.s * 1000000 + t.us, 123456789 + (k - 1000) * 1000000 // 1926, "k=%d" % k)
        assert 0 <= t.us < 1000000


def test_header_time_limbs_cover_64_bits():
    st = FrameStore(8192, 50)
    pk = Packetizer(st, 1)
    stage = _stage(4)

    class T:
        pass

    t = T()
    for s_, us in ((0, 0), (4294, 967295), (4295, 999999), (2 ** 30 - 1, 999999), (123456789, 1)):
        t.s, t.us = s_, us
        d = codec.decode_frame(st.frame(pk.emg_frame(stage, 4, t)))
        eq(d["t0_us"], s_ * 1000000 + us, "t0 for %d s" % s_)


def test_seq_shared_with_imu_status_and_foot():
    st = FrameStore(8192, 50)
    pk = Packetizer(st, 2)
    t = SampleClock(100)
    rec = bytearray(12 * 18)
    for i in range(18):
        struct.pack_into("<6h", rec, 12 * i, i, -i, 1000, -900, 5, 32767)
    a = pk.imu_frame(rec, 18, t.at(7))
    b = pk.status_frame(5000, {"battery_mv": 3900, "label": "TA left"})
    c = pk.foot_frame(6000, [(0, 1, 1)])
    d = pk.emg_frame(_stage(10), 10, SampleClock(2000).at(3))
    eq([a, b, c, d], [0, 1, 2, 3], "one counter")
    imu = codec.decode_frame(st.frame(a))
    eq(imu["samples"][5], [5, -5, 1000, -900, 5, 32767], "imu record")
    eq(imu["t0_us"], 70000, "imu t0")
    eq(codec.decode_frame(st.frame(b))["label"], "TA left", "status")
    eq(codec.decode_frame(st.frame(c))["events"], [[0, 1, 1]], "foot")


def test_imu_frame_sizes():
    eq(imu_samples_for_mtu(247), 18, "fits 244 bytes")
    n = imu_samples_for_mtu(23)
    assert 18 + 12 * n <= codec.FRAG_TARGET, n
