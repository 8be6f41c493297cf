"""ST LSM6DSO 6-axis IMU over I2C: polled data-ready, output in wire units (mg, 0.1 deg/s)."""

import struct

from micropython import const

_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_STATUS = const(0x1E)
_OUTX_L_G = const(0x22)
WHO_AM_I_VALUE = const(0x6C)
_ODR_CODES = {104: 0x4, 208: 0x5}
_XL_FS_4G = const(0x08)  # 0.122 mg / LSB
_G_FS_1000DPS = const(0x08)  # 35 mdps / LSB


class LSM6DSO:
    def __init__(self, i2c, address=0x6A):
        self.i2c = i2c
        self.addr = address
        self._raw = bytearray(12)
        self._one = bytearray(1)
        self.record = bytearray(12)  # ax ay az gx gy gz, int16 LE, wire units

    def _write(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.addr, reg, self._one)

    def _read(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self._one)
        return self._one[0]

    def init(self, rate_hz):
        if rate_hz not in _ODR_CODES:
            raise ValueError("LSM6DSO rates here are 104 or 208 Hz, not %d" % rate_hz)
        ok = self._read(_WHO_AM_I) == WHO_AM_I_VALUE
        self._write(_CTRL3_C, 0x44)  # block data update, auto-increment
        code = _ODR_CODES[rate_hz] << 4
        self._write(_CTRL1_XL, code | _XL_FS_4G)
        self._write(_CTRL2_G, code | _G_FS_1000DPS)
        return ok

    def off(self):
        self._write(_CTRL1_XL, 0)
        self._write(_CTRL2_G, 0)

    def ready(self):
        return self._read(_STATUS) & 0x03 == 0x03

    def read_into_record(self):
        """Read gyro+accel and convert into self.record (no allocation)."""
        self.i2c.readfrom_mem_into(self.addr, _OUTX_L_G, self._raw)
        r = self._raw
        rec = self.record
        for i in range(3):
            g = (_s16(r, 2 * i) * 35 + 50) // 100  # 35 mdps/LSB -> 0.1 deg/s, rounded
            a = (_s16(r, 6 + 2 * i) * 122 + 500) // 1000  # 0.122 mg/LSB -> mg, rounded
            struct.pack_into("<h", rec, 2 * i, a)
            struct.pack_into("<h", rec, 6 + 2 * i, g)
        return rec


def _s16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v
