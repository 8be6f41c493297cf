"""The host clock the recorder stamps everything with (microseconds, monotonic).

Real radio: time.monotonic_ns() // 1000. Simulator: myosim.backend.host_clock_us,
the global simulation time every simulated process shares, so recorded times
can be compared with the simulator's truth.
"""

import time


def monotonic_us():
    """Host clock for real hardware: monotonic microseconds."""
    return time.monotonic_ns() // 1000


def clock_for_backend(backend_name):
    """Clock function (no arguments -> int microseconds) for a backend name ('ble' or 'sim')."""
    if backend_name == "sim":
        from myosim import backend as sim_backend

        return sim_backend.host_clock_us
    return monotonic_us
