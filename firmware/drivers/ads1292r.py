"""TI ADS1292R biopotential front end over SPI (continuous-read mode, DRDY interrupt).

The interrupt handler reads one 9-byte frame (24-bit status, CH1, CH2) into a
preallocated buffer and hands CH1 (high-passed by a DC tracker and scaled to
int16) to the sample sink: no allocation per sample.
"""

import time

from micropython import const

_SDATAC = const(0x11)
_RDATAC = const(0x10)
_START = const(0x08)
_STOP = const(0x0A)
_RESET = const(0x06)
_WREG = const(0x40)
_RREG = const(0x20)
_ID = const(0x00)
_CONFIG1 = const(0x01)
_CONFIG2 = const(0x02)
_LOFF = const(0x03)
_CH1SET = const(0x04)
_CH2SET = const(0x05)
_RLD_SENS = const(0x06)
_LOFF_SENS = const(0x07)
_RESP1 = const(0x09)
_RESP2 = const(0x0A)
ID_ADS1292R = const(0x73)
_RATE_CODES = {125: 0, 250: 1, 500: 2, 1000: 3, 2000: 4, 4000: 5, 8000: 6}
_GAIN_CODES = {6: 0, 1: 1, 2: 2, 3: 3, 4: 4, 8: 5, 12: 6}
_DC_SHIFT = const(10)  # DC tracker time constant 2^10 samples (~0.3 Hz at 2 kHz)
_DC_FRAC = const(6)  # DC estimate kept in Q6: |code| < 2^23 so it stays a small int (< 2^30)


class ADS1292R:
    def __init__(self, spi, cs, drdy, start=None, reset=None, gain=6, vref_mv=2420, shift_bits=4):
        self.spi = spi
        self.cs = cs
        self.drdy = drdy
        self.start_pin = start
        self.reset_pin = reset
        self.gain = gain
        self.vref_mv = vref_mv
        self.shift = shift_bits
        self._rx = bytearray(9)
        self._tx = bytearray(9)
        self._cmd = bytearray(1)
        self._reg = bytearray(3)
        self._dc_q = 0  # electrode DC offset estimate, Q6 codes
        self._dc_seeded = False
        self.loff_bits = 0  # lead-off bits of the latest sample (IN1P/IN1N/...)
        self.sink = None
        self.samples = 0  # conversions delivered since power-up (never reset: the sample index)
        self.drdy_ticks = 0  # ticks_us() at the latest conversion

    def nv_per_lsb(self):
        """Input-referred nV per int16 LSB: 2*Vref/gain/2^24 scaled by the dropped bits."""
        return (2 * self.vref_mv * 1000000 // self.gain * (1 << self.shift)) >> 24

    def _command(self, c):
        self._cmd[0] = c
        self.cs(0)
        self.spi.write(self._cmd)
        self.cs(1)

    def write_reg(self, reg, value):
        b = self._reg
        b[0] = _WREG | reg
        b[1] = 0
        b[2] = value
        self.cs(0)
        self.spi.write(b)
        self.cs(1)

    def read_reg(self, reg):
        b = self._reg
        b[0] = _RREG | reg
        b[1] = 0
        b[2] = 0
        self.cs(0)
        self.spi.write_readinto(b, b)
        self.cs(1)
        return b[2]

    def init(self, rate_hz):
        """Reset and configure; returns True if the chip answered with its ID."""
        if rate_hz not in _RATE_CODES:
            raise ValueError("ADS1292R cannot sample at %d Hz" % rate_hz)
        if self.reset_pin is not None:
            self.reset_pin(0)
            self.reset_pin(1)
        self._command(_RESET)
        self._command(_SDATAC)
        ok = self.read_reg(_ID) == ID_ADS1292R
        self.write_reg(_CONFIG1, _RATE_CODES[rate_hz])
        self.write_reg(_CONFIG2, 0xE0)  # lead-off comparators on, reference buffer on, 2.42 V
        self.write_reg(_LOFF, 0xF0)  # 95 % / 5 % comparator thresholds, DC lead-off current
        self.write_reg(_CH1SET, _GAIN_CODES[self.gain] << 4)  # normal electrode input
        self.write_reg(_CH2SET, 0x81)  # channel 2 powered down, inputs shorted
        self.write_reg(_RLD_SENS, 0x23)  # right-leg drive from channel 1
        self.write_reg(_LOFF_SENS, 0x03)  # lead-off detection on IN1P and IN1N
        self.write_reg(_RESP1, 0x02)
        self.write_reg(_RESP2, 0x03)  # RLD reference internal
        return ok

    def start(self, sink):
        """Start continuous conversion; every DRDY calls sink(int16 code)."""
        self.sink = sink
        self._dc_seeded = False
        self._command(_RDATAC)
        if self.start_pin is not None:
            self.start_pin(1)
        else:
            self._command(_START)

    def stop(self):
        if self.start_pin is not None:
            self.start_pin(0)
        else:
            self._command(_STOP)
        self._command(_SDATAC)

    def on_drdy(self, _pin):
        """Data-ready interrupt: read one conversion and deliver CH1."""
        self.cs(0)
        self.spi.readinto(self._rx, 0)
        self.cs(1)
        r = self._rx
        self.loff_bits = ((r[0] & 0x0F) << 1) | (r[1] >> 7)
        v = (r[3] << 16) | (r[4] << 8) | r[5]
        if v & 0x800000:
            v -= 0x1000000
        # remove the electrode offset (hundreds of mV) before cutting 24 to 16 bits
        if not self._dc_seeded:
            self._dc_q = v << _DC_FRAC
            self._dc_seeded = True
        self._dc_q += ((v << _DC_FRAC) - self._dc_q) >> _DC_SHIFT
        v = (v - (self._dc_q >> _DC_FRAC)) >> self.shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        self.drdy_ticks = time.ticks_us()
        self.samples += 1
        self.sink(v)

    def lead_off(self):
        """True if IN1P or IN1N is off (from the latest status word)."""
        return bool(self.loff_bits & 0x03)
