"""Recording settings: defaults and the checks a setting must pass before any node is touched.

A bad setting is a one-line UserError naming the allowed values (the CLI exits 2).
"""

from ..boards import known_boards
from ..errors import UserError

DEFAULT_CONFIG = {"emg_hz": 2000, "highpass_hz": 20, "powerline_hz": 0, "imu_hz": 100}
ALLOWED_EMG_HZ = (1000, 1926, 2000)
# Simulated nodes model the reference design's front end too.
DEFAULT_BOARD = "myostride-ref-s3"


def check_config(config):
    """The full recording configuration (defaults filled in), or UserError."""
    cfg = dict(DEFAULT_CONFIG)
    cfg.update({k: v for k, v in (config or {}).items() if v is not None})
    unknown = set(cfg) - set(DEFAULT_CONFIG)
    if unknown:
        raise UserError("unknown recording setting(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(DEFAULT_CONFIG)))
    if cfg["emg_hz"] not in ALLOWED_EMG_HZ:
        raise UserError("EMG rate %s Hz is not supported; use one of %s" % (cfg["emg_hz"], ", ".join(map(str, ALLOWED_EMG_HZ))))
    if not 10 <= cfg["highpass_hz"] <= 20:
        raise UserError("high-pass %s Hz is outside 10-20 Hz (SENIAM); choose 10-20" % cfg["highpass_hz"])
    if cfg["powerline_hz"] not in (0, 50, 60):
        raise UserError("powerline %s Hz: use 0 (off), 50 or 60" % cfg["powerline_hz"])
    if cfg["imu_hz"] not in (0, 100, 200):
        raise UserError("IMU rate %s Hz: use 0 (off), 100 or 200" % cfg["imu_hz"])
    return cfg


def check_board(board):
    """The node hardware (a hardware/boards/<name>.json definition) the recorded nodes are built on."""
    if not board:
        return None
    known = known_boards()
    if known and board not in known:
        raise UserError("unknown board %r; known boards: %s" % (board, ", ".join(known)))
    return board
