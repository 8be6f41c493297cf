"""A stand-in for MicroPython's `machine` with scriptable ADS1292R / LSM6DSO answers,
for testing board_ref.py and drivers/ on the unix port (which has no Pin/SPI/I2C/ADC)."""

import struct

LOG = []  # ("spi", bytes) / ("i2c-w", addr, reg, bytes) / ("reset",)
RESETS = []


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8
    pins = {}

    def __init__(self, n, mode=-1, pull=-1, value=None):
        self.n = n
        self.mode = mode
        self._v = 0 if value is None else value
        self.handler = None
        self.trigger = 0
        self.hard = None
        Pin.pins[n] = self

    def __call__(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def value(self, v=None):
        return self(v)

    def irq(self, handler=None, trigger=0, hard=False):
        self.handler = handler
        self.trigger = trigger
        self.hard = hard

    def fire(self):
        self.handler(self)


class SPI:
    last = None

    def __init__(self, id, **kw):
        self.id = id
        self.kw = kw
        self.frames = []  # 9-byte conversions returned by readinto
        self.id_reg = 0x73
        SPI.last = self

    def write(self, b):
        LOG.append(("spi", bytes(b)))

    def write_readinto(self, w, r):
        LOG.append(("spi", bytes(w)))
        if w[0] == 0x20:  # RREG ID
            r[2] = self.id_reg

    def readinto(self, buf, write=0):
        f = self.frames.pop(0)
        for i in range(len(buf)):
            buf[i] = f[i]


def ads_frame(code24, loff=0):
    """A 9-byte ADS1292R conversion: status (1100 + LOFF_STAT + GPIO), CH1, CH2."""
    st = (0xC << 20) | ((loff & 0x1F) << 15)
    v = code24 & 0xFFFFFF
    return bytes([st >> 16, (st >> 8) & 0xFF, st & 0xFF, v >> 16, (v >> 8) & 0xFF, v & 0xFF, 0, 0, 0])


class I2C:
    last = None

    def __init__(self, id, **kw):
        self.id = id
        self.kw = kw
        self.regs = {0x0F: 0x6C, 0x1E: 0x03}
        self.data = bytes(12)
        I2C.last = self

    def writeto_mem(self, addr, reg, buf):
        LOG.append(("i2c-w", addr, reg, bytes(buf)))
        self.regs[reg] = buf[0]

    def readfrom_mem_into(self, addr, reg, buf):
        if reg == 0x22 and len(buf) == 12:
            for i in range(12):
                buf[i] = self.data[i]
        else:
            buf[0] = self.regs.get(reg, 0)

    def set_raw(self, gx, gy, gz, ax, ay, az):
        self.data = struct.pack("<6h", gx, gy, gz, ax, ay, az)


class ADC:
    ATTN_11DB = 3
    uv = 2000000

    def __init__(self, pin):
        self.pin = pin

    def atten(self, a):
        self.a = a

    def read_uv(self):
        return ADC.uv


def reset():
    RESETS.append(1)
