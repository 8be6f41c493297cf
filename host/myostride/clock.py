"""The host clock for real radios: monotonic microseconds.

Which clock a recording uses is the backend's choice (acquire/backends.py:
Backend.host_clock_us): real radios use monotonic_us below, the simulator the
global simulation time every simulated process shares, so recorded times can
be compared with the simulator's truth.
"""

import time


def monotonic_us():
    """Host clock for real hardware: monotonic microseconds."""
    return time.monotonic_ns() // 1000
