"""64-bit node clock in microseconds, extended from a wrapping ticks counter.

MicroPython's time.ticks_us() wraps (30 bits on most ports, ~17.9 min); the
node needs one monotonic microsecond count for frame timestamps and
time-sync replies. Every read adds the wrapped difference since the last read,
so the clock is exact as long as it is read at least once per half period
(the main loop reads it every iteration).

Re-entrant: the time-sync IRQ reads the clock (t2) and may run between any two
bytecodes of a main-loop read. The extension state is one (ticks, us) tuple,
snapshotted before the counter is read and replaced in one store, so a read
interrupted by another read always counts from a consistent pair: no tick
interval is counted twice (the +2**30 us jump of a split read-modify-write).
"""


class Clock:
    def __init__(self, ticks_us, bits=30, origin_us=None):
        """origin_us: a full node time whose low `bits` the counter showed at that
        moment (the simulated board, whose clock predates boot); None counts from 0."""
        self._ticks = ticks_us
        self._mask = (1 << bits) - 1
        if origin_us is None:
            self._state = (ticks_us() & self._mask, 0)
        else:
            self._state = (origin_us & self._mask, origin_us)

    def now_us(self):
        """Microseconds since this clock started (never wraps, never goes back)."""
        st = self._state  # snapshot first: its tick value precedes the read below
        raw = self._ticks() & self._mask
        us = st[1] + ((raw - st[0]) & self._mask)
        cur = self._state
        if cur is st or cur[1] < us:
            # An interrupting read that stored a later pair wins; else ours is the latest.
            self._state = (raw, us)
        return us
