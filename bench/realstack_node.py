"""Node entry point for bench_realstack.py (runs under the NimBLE MicroPython): the unmodified
firmware, plus a thread that prints the radio's counters once a second, so the benchmark can
count ENOMEM back-offs without the firmware reporting them on the wire.

    REALSTACK_COUNTERS <ms> <enomem> <sent>
"""

import _thread
import time

import bluetooth

import startup

node = startup.make(bluetooth)


def _report():
    for _ in range(3600):  # bounded; the benchmark terminates the node long before
        time.sleep(1)
        r = node.radio
        print("REALSTACK_COUNTERS %d %d %d" % (time.ticks_ms(), r.enomem, r.sent))


_thread.start_new_thread(_report, ())
node.run()
