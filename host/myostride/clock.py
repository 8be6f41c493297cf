"""The host clock the recorder stamps everything with (microseconds, monotonic).

Real radio: time.monotonic_ns() // 1000. Simulator: myosim.backend.host_clock_us,
the global simulation time every simulated process shares, so recorded times
can be compared with the simulator's truth.
"""

import time


def monotonic_us():
    """Host clock for real hardware: monotonic microseconds."""
    return time.monotonic_ns() // 1000


def clock_for_backend(backend_name, world_path=None):
    """Clock function (no arguments -> int microseconds) for a backend name ('ble' or 'sim').

    For 'sim' the world file (default: the simulator's published one) is read
    on first use, so a world started after this call is still found.
    """
    if backend_name == "sim":
        from myosim import backend as sim_backend

        if world_path is None:
            return lambda: int(sim_backend.host_clock_us())
        cache = {}

        def sim_clock_us():
            w = cache.get("w")
            if w is None:
                w = cache["w"] = sim_backend.load_world(world_path)
            return int(sim_backend.host_clock_us(w))

        return sim_clock_us
    return monotonic_us
