"""64-bit clock from a wrapping 30-bit counter."""

from clock import Clock
from fwt_helpers import eq

_M = (1 << 30) - 1


class _Ticks:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t & _M


def test_extends_across_many_wraps():
    true_us = (1 << 30) - 5000
    tk = _Ticks(true_us)
    c = Clock(tk, 30)
    eq(c.now_us(), 0, "starts at 0")
    start = true_us
    steps = (1, 4999, 1, 123456789, 400000000, 536870911, 7, 1 << 29)
    for _ in range(6):
        for d in steps:
            true_us += d
            tk.t = true_us
            eq(c.now_us(), true_us - start, "after +%d" % d)
    assert true_us > 3 * (1 << 30)


def test_origin_continues_a_clock_that_predates_boot():
    full = 5 * (1 << 30) + 777  # node crystal value at boot
    tk = _Ticks(full)
    c = Clock(tk, 30, full)
    eq(c.now_us(), full, "origin")
    tk.t = full + 600000000
    eq(c.now_us(), full + 600000000, "after 600 s")
    tk.t = full + 1200000000
    eq(c.now_us(), full + 1200000000, "after another 600 s, across a wrap")


def test_never_goes_backwards_on_same_reading():
    tk = _Ticks(100)
    c = Clock(tk, 30)
    eq(c.now_us(), 0, "")
    eq(c.now_us(), 0, "same tick twice")
    tk.t = 101
    eq(c.now_us(), 1, "")


class _IrqTicks:
    """A counter whose read is followed by an 'IRQ' that reads the clock too: the
    outer read's tick value was sampled before the IRQ ran (the race in a time-sync
    write arriving mid-read). The IRQ reads `irq_delta` us later."""

    def __init__(self, t, irq_delta):
        self.t = t
        self.irq_delta = irq_delta
        self.clock = None
        self.arm = False
        self.irq_values = []

    def __call__(self):
        raw = self.t
        if self.arm:
            self.arm = False
            self.t += self.irq_delta
            self.irq_values.append((self.t, self.clock.now_us()))
        return raw & _M


def test_irq_read_inside_a_read_counts_no_interval_twice():
    start = (1 << 30) - 3000  # also straddles a wrap
    tk = _IrqTicks(start, 700)
    c = Clock(tk, 30)
    tk.clock = c
    true_us = start
    for i in range(200):
        true_us += 997 + (i * 37) % 4000
        tk.t = true_us
        tk.arm = (i % 3) != 2
        got = c.now_us()
        eq(got, true_us - start, "outer read %d (sampled before the IRQ)" % i)
        if tk.irq_values:
            t_irq, v = tk.irq_values.pop()
            eq(v, t_irq - start, "IRQ read %d" % i)
            true_us = t_irq
        eq(c.now_us(), true_us - start, "next read after %d" % i)

