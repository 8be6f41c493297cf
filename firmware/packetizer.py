"""Builds data frames straight into the frame store (no allocation per EMG/IMU frame).

Header fields, samples and the CRC are written with viper into the store's
preallocated bytes; timestamps are computed from sample indices with small-int
arithmetic only (t0 = floor(k0 * 1e6 / rate) split as seconds + microseconds, and
the 64-bit value assembled in 16-bit limbs) so a 32-bit MCU never creates a
big integer on this path. Status and footswitch frames (about 1/s) use the
shared codec and may allocate.
"""

import micropython
from micropython import const

from myowire import codec

from framestore import copy_bytes

_HDR = const(16)


def _crc_table():
    t = bytearray(512)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        c &= 0xFFFF
        t[2 * i] = c & 0xFF
        t[2 * i + 1] = c >> 8
    return t


_TABLE = _crc_table()


@micropython.viper
def _seal(buf, off: int, n: int, table) -> int:
    """Write the CRC-16/CCITT-FALSE of buf[off:off+n] at buf[off+n]; returns n + 2."""
    p = ptr8(buf)
    t = ptr16(table)
    crc = 0xFFFF
    i = off
    end = off + n
    while i < end:
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ p[i]) & 0xFF]
        i += 1
    p[end] = crc & 0xFF
    p[end + 1] = (crc >> 8) & 0xFF
    return n + 2


@micropython.viper
def _header(buf, off: int, vt: int, node: int, enc: int, count: int, seq: int, t_s: int, t_us: int):
    """16-byte header at buf[off]; t0 = t_s * 1e6 + t_us assembled in 16-bit limbs."""
    p = ptr8(buf)
    p[off] = vt
    p[off + 1] = node
    p[off + 2] = enc
    p[off + 3] = count
    p[off + 4] = seq & 0xFF
    p[off + 5] = (seq >> 8) & 0xFF
    p[off + 6] = (seq >> 16) & 0xFF
    p[off + 7] = (seq >> 24) & 0xFF
    s0 = t_s & 0xFFFF
    s1 = t_s >> 16
    p00 = s0 * 0x4240  # 1e6 = 0x000F4240
    p01 = s0 * 0xF
    p10 = s1 * 0x4240
    p11 = s1 * 0xF
    v = (p00 & 0xFFFF) + (t_us & 0xFFFF)
    p[off + 8] = v & 0xFF
    p[off + 9] = (v >> 8) & 0xFF
    v = (v >> 16) + (p00 >> 16) + (p01 & 0xFFFF) + (p10 & 0xFFFF) + (t_us >> 16)
    p[off + 10] = v & 0xFF
    p[off + 11] = (v >> 8) & 0xFF
    v = (v >> 16) + (p01 >> 16) + (p10 >> 16) + (p11 & 0xFFFF)
    p[off + 12] = v & 0xFF
    p[off + 13] = (v >> 8) & 0xFF
    v = (v >> 16) + (p11 >> 16)
    p[off + 14] = v & 0xFF
    p[off + 15] = (v >> 8) & 0xFF


class SampleClock:
    """Node time of sample k at a fixed rate, as (s, us) small ints:
    epoch_us + floor((k - k_epoch) * 1e6 / rate_hz). The simulated board's epoch is
    (0, 0), i.e. floor(k * 1e6 / rate_hz) as ARCHITECTURE.md fixes; the reference board
    starts an epoch whenever its converter (re)starts, so time never goes back."""

    def __init__(self, rate_hz, k_epoch=0, epoch_us=0):
        self.rate_hz = rate_hz
        self._qa = 1000000 // rate_hz
        self._qb = 1000000 % rate_hz
        self.k_epoch = k_epoch
        self._es = epoch_us // 1000000
        self._eus = epoch_us - self._es * 1000000
        self.s = 0
        self.us = 0

    def at(self, k):
        d = k - self.k_epoch
        q = d // self.rate_hz
        r = d - q * self.rate_hz
        us = r * self._qa + (r * self._qb) // self.rate_hz + self._eus
        s = q + self._es
        if us >= 1000000:
            us -= 1000000
            s += 1
        self.s = s
        self.us = us
        return self


def imu_samples_for_mtu(mtu):
    """IMU records per frame: sized like EMG frames (a 12-byte record is 6 int16 channels)."""
    return codec.emg_samples_for_mtu(mtu, 6)


class Packetizer:
    def __init__(self, store, node_id):
        self.store = store
        self.node_id = node_id
        self._vt_emg = (codec.VERSION << 4) | codec.T_EMG
        self._vt_imu = (codec.VERSION << 4) | codec.T_IMU
        self._enc_imu = (5 << 4) | codec.FMT_I16

    def emg_frame(self, stage, n, t):
        """Frame n int16 samples from stage (bytes 0..2n) stamped with SampleClock t; returns seq."""
        return self._samples(self._vt_emg, 0, stage, n, 2 * n, t)

    def imu_frame(self, stage, n, t):
        """Frame n 6-axis IMU records from stage; returns seq."""
        return self._samples(self._vt_imu, self._enc_imu, stage, n, 12 * n, t)

    def _samples(self, vt, enc, stage, n, nbytes, t):
        st = self.store
        length = _HDR + nbytes + 2
        off = st.begin(length)
        buf = st.wbuf
        _header(buf, off, vt, self.node_id, enc, n, st.next_seq, t.s, t.us)
        copy_bytes(stage, 0, buf, off + _HDR, nbytes)
        _seal(buf, off, _HDR + nbytes, _TABLE)
        return st.commit(length)

    def put_frame(self, frame):
        """Store an already encoded frame (its seq must be store.next_seq); returns seq."""
        st = self.store
        n = len(frame)
        off = st.begin(n)
        copy_bytes(frame, 0, st.wbuf, off, n)
        return st.commit(n)

    def status_frame(self, t0_us, fields):
        return self.put_frame(codec.encode_status(self.node_id, self.store.next_seq, t0_us, fields))

    def foot_frame(self, t0_us, events):
        return self.put_frame(codec.encode_foot(self.node_id, self.store.next_seq, t0_us, events))
