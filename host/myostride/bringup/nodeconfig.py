"""Node configuration (config.json on the node): the allowed values, checked before sending.

Why here too: the firmware's config.py validates at boot and falls back to safe
defaults on bad values; the host refuses them up front with the allowed range, so
a user never writes a config the node would silently ignore. The rules below are
the firmware's (tests/bringup compares them with firmware/config.py under micropython).
"""

import json

from ..errors import UserError

EMG_HZ = (1000, 1926, 2000)
HIGHPASS_HZ = (10, 20)  # inclusive range
POWERLINE_HZ = (0, 50, 60)  # 0 = no powerline filter (SENIAM/ISEK: avoid notches)
IMU_HZ = (0, 100, 200)  # 0 = IMU off
NODE_ID = (1, 254)  # inclusive; 255 is the wire's broadcast id
MAX_LABEL_BYTES = 16
KEYS = ("node_id", "label", "emg_hz", "highpass_hz", "powerline_hz", "imu_hz")
DEFAULTS = {"node_id": 1, "label": "", "emg_hz": 2000, "highpass_hz": 20, "powerline_hz": 0, "imu_hz": 100}


def problems(cfg):
    """Every invalid value in cfg, each as 'key VALUE is not allowed; allowed: ...'."""
    out = []

    def bad(key, allowed):
        out.append("%s %r is not allowed; allowed: %s" % (key, cfg.get(key), allowed))

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if "node_id" in cfg and not (is_int(cfg["node_id"]) and NODE_ID[0] <= cfg["node_id"] <= NODE_ID[1]):
        bad("node_id", "%d-%d" % NODE_ID)
    if "label" in cfg:
        lab = cfg["label"]
        if not isinstance(lab, str) or len(lab.encode("utf-8")) > MAX_LABEL_BYTES:
            bad("label", "text of at most %d bytes (UTF-8)" % MAX_LABEL_BYTES)
    if "emg_hz" in cfg and not (is_int(cfg["emg_hz"]) and cfg["emg_hz"] in EMG_HZ):
        bad("emg_hz", ", ".join(str(v) for v in EMG_HZ))
    if "highpass_hz" in cfg and not (is_int(cfg["highpass_hz"]) and HIGHPASS_HZ[0] <= cfg["highpass_hz"] <= HIGHPASS_HZ[1]):
        bad("highpass_hz", "%d-%d" % HIGHPASS_HZ)
    if "powerline_hz" in cfg and not (is_int(cfg["powerline_hz"]) and cfg["powerline_hz"] in POWERLINE_HZ):
        bad("powerline_hz", "0 (off), 50 or 60")
    if "imu_hz" in cfg and not (is_int(cfg["imu_hz"]) and cfg["imu_hz"] in IMU_HZ):
        bad("imu_hz", "0 (off), 100 or 200")
    unknown = sorted(set(cfg) - set(KEYS))
    if unknown:
        out.append("unknown key(s) %s; known keys: %s" % (", ".join(unknown), ", ".join(KEYS)))
    return out


def validate(cfg, where="config"):
    """Raise UserError listing every problem (what is wrong and what is allowed)."""
    p = problems(cfg)
    if p:
        raise UserError("%s refused: %s" % (where, "; ".join(p)))
    return cfg


def updates_from_args(args):
    """The config keys the user set on the command line (None = not given)."""
    pairs = (
        ("node_id", getattr(args, "node_id", None)),
        ("label", getattr(args, "label", None)),
        ("emg_hz", getattr(args, "emg_hz", None)),
        ("highpass_hz", getattr(args, "highpass_hz", None)),
        ("powerline_hz", getattr(args, "powerline_hz", None)),
        ("imu_hz", getattr(args, "imu_hz", None)),
    )
    return {k: v for k, v in pairs if v is not None}


def merged(current_bytes, updates):
    """New config dict: the node's current config.json (if readable) with updates applied.

    Returns (config, note): note says when the current file was missing or unreadable
    (then the firmware defaults are the base), so the user is told, not surprised.
    """
    note = None
    base = dict(DEFAULTS)
    if current_bytes is None:
        note = "the node had no config.json; starting from the firmware defaults"
    else:
        try:
            cur = json.loads(current_bytes.decode("utf-8"))
            if not isinstance(cur, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            note = "the node's config.json was unreadable (%s); starting from the firmware defaults" % exc
        else:
            bad = problems({k: v for k, v in cur.items() if k in KEYS})
            if bad:
                note = "the node's config.json had invalid values (%s); those fall back to defaults" % "; ".join(bad)
            for k in KEYS:
                if k in cur and not problems({k: cur[k]}):
                    base[k] = cur[k]
            for k, v in cur.items():  # keys this host does not know are kept, not dropped
                if k not in KEYS:
                    base[k] = v
    cfg = dict(base)
    cfg.update(updates)
    validate({k: v for k, v in cfg.items() if k in KEYS})
    return cfg, note


def encode(cfg):
    """config.json bytes as written to the node (stable key order)."""
    return (json.dumps(cfg, sort_keys=True) + "\n").encode("utf-8")
