"""Status report: battery, flags, self-test, firmware version and config as codec.encode_status fields."""

from myowire import codec

from version import FIRMWARE_VERSION

LOW_BATTERY_MV = 3500
_EMPTY_MV = 3300
_FULL_MV = 4150


def battery_pct(mv):
    """Rough LiPo state of charge, linear between 3.30 V (0 %) and 4.15 V (100 %)."""
    if mv <= _EMPTY_MV:
        return 0
    if mv >= _FULL_MV:
        return 100
    return (mv - _EMPTY_MV) * 100 // (_FULL_MV - _EMPTY_MV)


def filter_flags(cfg):
    f = 0
    if cfg["highpass_hz"]:
        f |= codec.FF_HIGHPASS
        if cfg["highpass_order"] == 4:
            f |= codec.FF_HIGHPASS_4TH
    if cfg["powerline_hz"]:
        f |= codec.FF_POWERLINE
    return f


def fields(cfg, battery_mv, flags, selftest, nv_per_lsb, overrun_samples, oldest_seq):
    """The dict codec.encode_status takes."""
    return {
        "battery_mv": battery_mv,
        "battery_pct": battery_pct(battery_mv),
        "flags": flags,
        "firmware": FIRMWARE_VERSION,
        "selftest": selftest,
        "emg_hz": cfg["emg_hz"],
        "imu_hz": cfg["imu_hz"],
        "highpass_hz": cfg["highpass_hz"],
        "powerline_hz": cfg["powerline_hz"],
        "nv_per_lsb": nv_per_lsb,
        "overrun_samples": overrun_samples & 0xFFFFFFFF,
        "oldest_seq": oldest_seq,
        "filter_flags": filter_flags(cfg),
        "label": cfg["label"],
    }
