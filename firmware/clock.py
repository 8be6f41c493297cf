"""64-bit node clock in microseconds, extended from a wrapping ticks counter.

MicroPython's time.ticks_us() wraps (30 bits on most ports, ~17.9 min); the
node needs one monotonic microsecond count for frame timestamps and
time-sync replies. Every read adds the wrapped difference since the last read,
so the clock is exact as long as it is read at least once per half period
(the main loop reads it every iteration).
"""


class Clock:
    def __init__(self, ticks_us, bits=30, origin_us=None):
        """origin_us: a full node time whose low `bits` the counter showed at that
        moment (the simulated board, whose clock predates boot); None counts from 0."""
        self._ticks = ticks_us
        self._mask = (1 << bits) - 1
        if origin_us is None:
            self._last = ticks_us() & self._mask
            self._us = 0
        else:
            self._last = origin_us & self._mask
            self._us = origin_us

    def now_us(self):
        """Microseconds since this clock started (never wraps, never goes back)."""
        raw = self._ticks() & self._mask
        self._us += (raw - self._last) & self._mask
        self._last = raw
        return self._us
