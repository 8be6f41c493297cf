"""Node configuration persisted as config.json on the node's filesystem.

Validated on every boot: a missing file means factory defaults; a corrupt or
invalid file is left untouched on disk (never overwritten behind the user's
back), the node runs on safe defaults and reports why (F_CONFIG_DEFAULTS in
status, the reason in the STATUS ack and on the console). A bad config never
stops the node from booting.
"""

import json

FILE_NAME = "config.json"
HIGHPASS_RANGE_HZ = (10, 20)
POWERLINE_CHOICES_HZ = (0, 50, 60)
ORDER_CHOICES = (2, 4)
MAX_LABEL = 16
KEYS = ("node_id", "label", "emg_hz", "highpass_hz", "highpass_order", "powerline_hz", "imu_hz")


def defaults(board):
    """Factory settings for this board (2 kHz EMG, 20 Hz 2nd-order high-pass, no notch)."""
    return {
        "node_id": board.default_node_id,
        "label": "",
        "emg_hz": board.default_emg_hz,
        "highpass_hz": 20,
        "highpass_order": 2,
        "powerline_hz": 0,
        "imu_hz": board.default_imu_hz,
    }


def imu_rate_hz(requested_hz, rates):
    """The IMU's own rate for a requested one: hosts ask for nominal 100/200 Hz while the
    LSM6DSO runs at 104/208 Hz, so a request within 5 % of a supported rate means that rate
    (status then reports the rate the IMU really runs at). Anything else is left as asked."""
    for r in rates:
        if abs(r - requested_hz) * 20 <= r:
            return r
    return requested_hz


def problem(cfg, board):
    """None if cfg is a complete valid config for this board, else the reason (str)."""
    if not isinstance(cfg, dict):
        return "config is not a JSON object"
    for k in KEYS:
        if k not in cfg:
            return "missing key %s" % k
    for k in cfg:
        if k not in KEYS:
            return "unknown key %s" % k
    for k in KEYS:
        if k != "label" and (not isinstance(cfg[k], int) or isinstance(cfg[k], bool)):
            return "%s must be an integer" % k
    if not 1 <= cfg["node_id"] <= 254:
        return "node_id %d outside 1-254" % cfg["node_id"]
    lab = cfg["label"]
    if not isinstance(lab, str) or len(lab.encode()) > MAX_LABEL:
        return "label must be text of at most %d bytes" % MAX_LABEL
    if cfg["emg_hz"] not in board.emg_rates:
        return "emg_hz %d not supported (board: %s)" % (cfg["emg_hz"], _choices(board.emg_rates))
    lo, hi = HIGHPASS_RANGE_HZ
    if not lo <= cfg["highpass_hz"] <= hi:
        return "highpass_hz %d outside %d-%d" % (cfg["highpass_hz"], lo, hi)
    if cfg["highpass_order"] not in ORDER_CHOICES:
        return "highpass_order must be 2 or 4"
    if cfg["powerline_hz"] not in POWERLINE_CHOICES_HZ:
        return "powerline_hz must be 0, 50 or 60"
    if cfg["imu_hz"] != 0 and cfg["imu_hz"] not in board.imu_rates:
        return "imu_hz %d not supported (board: 0 or %s)" % (cfg["imu_hz"], _choices(board.imu_rates))
    return None


def _choices(vals):
    return "/".join([str(v) for v in vals]) or "none"


def load(path, board):
    """(config, reason): reason is None when the file was valid or absent (defaults)."""
    try:
        f = open(path)
    except OSError:
        return defaults(board), None
    try:
        try:
            cfg = json.load(f)
        except Exception:
            return defaults(board), "config.json is not valid JSON"
    finally:
        f.close()
    why = problem(cfg, board)
    if why:
        return defaults(board), why
    return cfg, None


def save(path, cfg):
    """Write atomically (temp file then rename) so power loss cannot corrupt it."""
    import os

    tmp = path + ".tmp"
    f = open(tmp, "w")
    try:
        json.dump(cfg, f)
    finally:
        f.close()
    os.rename(tmp, path)
