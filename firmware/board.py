"""The board interface (Board) and picking the board: the simulated one on the unix port
when MYOSTRIDE_SIM_NODE is set, else the reference board described by board.json (a copy
of a hardware/boards/*.json)."""

import json


class Board:
    """What the node needs from a board; board_ref, board_sim and the tests' fakes derive.

    A board sets these attributes: fs_dir (writable directory for config.json),
    default_node_id, emg_rates / imu_rates (tuples, Hz; imu_rates empty without an IMU),
    default_emg_hz, default_imu_hz (0: no IMU), nv_per_lsb (EMG code size), selftest
    (codec.S_* bits of what passed its checks). The methods raising NotImplementedError are
    required; the others have defaults that suit a board which does not need them, so the
    node calls every method unconditionally (no probing with hasattr).
    """

    name = "board"
    ticks_bits = 30  # width of the wrapping ticks_us counter
    speed = 1.0  # node time per wall-clock time (a simulated world may run faster)
    keeps_clock = False  # True: the board's now_us() is the node clock (else the node extends ticks_us)

    # ---- required
    def ticks_us(self):
        """The node crystal's wrapping microsecond counter (ticks_bits wide)."""
        raise NotImplementedError

    def start(self, emg_ring, imu_ring, imu_hz, foot_cb, emg_hz):
        """(Re)start acquisition into the rings; sample indices continue across restarts."""
        raise NotImplementedError

    def poll(self):
        """Deliver what has arrived (samples not put by an interrupt); True if more is waiting."""
        raise NotImplementedError

    def emg_next(self):
        """Index k of the next EMG sample the board will deliver."""
        raise NotImplementedError

    def imu_next(self):
        """Index j of the next IMU record the board will deliver."""
        raise NotImplementedError

    def lead_off(self, k0, k1):
        """True if an electrode was off during EMG samples [k0, k1)."""
        raise NotImplementedError

    def battery_mv(self):
        raise NotImplementedError

    def identify(self, seconds):
        """Make the node findable (blink its LED) for `seconds`."""
        raise NotImplementedError

    def idle(self, node_ms):
        """Wait about node_ms of node time between main-loop passes."""
        raise NotImplementedError

    def reset(self):
        """Reboot the node; False if the board cannot (the firmware then restarts its state)."""
        raise NotImplementedError

    # ---- optional (defaults)
    def now_us(self):
        """The node clock, for a board with keeps_clock (the converter's sample clock)."""
        raise NotImplementedError

    def clock_origin_us(self):
        """Full node time at boot for extending ticks_us (None: start the count at 0)."""
        return None

    def time_base(self):
        """(k_epoch, j_epoch, epoch_us): sample indices and node time at the latest start."""
        return 0, 0, 0

    def battery_mv_at(self, node_us):
        """Battery at a node time; a board that can only measure 'now' answers that."""
        return self.battery_mv()


def _env(name):
    try:
        import os

        return os.getenv(name)
    except (ImportError, AttributeError):  # ports without os.getenv
        return None


def load(board_json="board.json"):
    node = _env("MYOSTRIDE_SIM_NODE")
    if node:
        from board_sim import SimBoard

        return SimBoard(node)
    try:
        with open(board_json) as f:
            spec = json.load(f)
    except OSError:
        raise RuntimeError("no %s on the node: copy hardware/boards/<board>.json there as %s" % (board_json, board_json))
    from board_ref import RefBoard

    return RefBoard(spec)
