"""Node configuration (config.json on the node): the allowed values, checked before sending.

Why here too: the firmware's config.py validates config.json at boot and runs on
safe defaults when anything is wrong (a missing key included), so the host
builds complete configs and refuses bad values up front, naming the allowed
range; a user never writes a config the node would silently ignore. The rules
mirror firmware/config.py: sample rates come from the board definition
(hardware/boards/*.json, flashed as board.json); tests/bringup checks the two
agree by running the firmware's own check under micropython.
"""

import json

from ..errors import UserError

HIGHPASS_HZ = (10, 20)  # inclusive range
HIGHPASS_ORDERS = (2, 4)
POWERLINE_HZ = (0, 50, 60)  # 0 = no powerline filter (SENIAM/ISEK: avoid notches)
NODE_ID = (1, 254)  # inclusive; 255 is the wire's broadcast id
MAX_LABEL_BYTES = 16
KEYS = ("node_id", "label", "emg_hz", "highpass_hz", "highpass_order", "powerline_hz", "imu_hz")
# The reference board's rates, used when no board definition is at hand (e.g. over BLE).
REF_EMG_RATES = (1000, 2000)
REF_IMU_RATES = (104, 208)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Rules:
    """The allowed config values for one board (its EMG and IMU rates)."""

    def __init__(self, emg_rates=REF_EMG_RATES, imu_rates=REF_IMU_RATES, default_node_id=1):
        self.emg_rates = tuple(int(r) for r in emg_rates)
        self.imu_rates = tuple(int(r) for r in imu_rates)
        self.default_node_id = default_node_id

    @classmethod
    def from_board(cls, spec):
        """Rules from a board definition dict (hardware/boards/*.json / board.json on the node)."""
        try:
            emg = spec["emg"]["rates_hz"]
            imu = spec.get("imu", {}).get("rates_hz", []) if spec.get("imu") else []
        except (KeyError, TypeError, AttributeError):
            raise UserError("the board definition has no emg.rates_hz; fix hardware/boards/*.json")
        return cls(emg, imu, int(spec.get("default_node_id", 1)))

    def defaults(self):
        """Complete config a new node gets (2 kHz if the board has it, 20 Hz 2nd-order high-pass, no notch)."""
        emg = 2000 if 2000 in self.emg_rates else max(self.emg_rates)
        imu = min((r for r in self.imu_rates if r >= 100), default=0)
        return {"node_id": self.default_node_id, "label": "", "emg_hz": emg, "highpass_hz": 20,
                "highpass_order": 2, "powerline_hz": 0, "imu_hz": imu}

    def allowed(self, key):
        """Human text of what `key` may be."""
        return {
            "node_id": "%d-%d" % NODE_ID,
            "label": "text of at most %d bytes (UTF-8)" % MAX_LABEL_BYTES,
            "emg_hz": " or ".join(str(r) for r in self.emg_rates) + " (this board)",
            "highpass_hz": "%d-%d" % HIGHPASS_HZ,
            "highpass_order": "2 or 4",
            "powerline_hz": "0 (off), 50 or 60",
            "imu_hz": "0 (off) or " + " or ".join(str(r) for r in self.imu_rates) + " (this board)"
            if self.imu_rates else "0 (this board has no IMU)",
        }.get(key, "one of " + ", ".join(KEYS))

    def ok(self, key, v):
        if key == "label":
            return isinstance(v, str) and len(v.encode("utf-8")) <= MAX_LABEL_BYTES
        if not _is_int(v):
            return False
        if key == "node_id":
            return NODE_ID[0] <= v <= NODE_ID[1]
        if key == "emg_hz":
            return v in self.emg_rates
        if key == "highpass_hz":
            return HIGHPASS_HZ[0] <= v <= HIGHPASS_HZ[1]
        if key == "highpass_order":
            return v in HIGHPASS_ORDERS
        if key == "powerline_hz":
            return v in POWERLINE_HZ
        if key == "imu_hz":
            return v == 0 or v in self.imu_rates
        return False

    def problems(self, cfg):
        """Each invalid value as 'key VALUE is not allowed; allowed: ...' (partial configs fine)."""
        out = []
        for k, v in cfg.items():
            if k not in KEYS:
                out.append("unknown key %s; known keys: %s" % (k, ", ".join(KEYS)))
            elif not self.ok(k, v):
                out.append("%s %r is not allowed; allowed: %s" % (k, v, self.allowed(k)))
        return out

    def validate(self, cfg, where="config"):
        """Raise UserError listing every problem (what is wrong and what is allowed)."""
        p = self.problems(cfg)
        if p:
            raise UserError("%s refused: %s" % (where, "; ".join(p)))
        return cfg

    def merged(self, current_bytes, updates):
        """(config, note): the node's config.json with updates applied, always complete.

        A missing, unreadable or invalid current file falls back to defaults for the
        affected keys -- as the firmware would -- and the note says so.
        """
        self.validate(updates, "new settings")
        note = None
        cfg = self.defaults()
        if current_bytes is None:
            note = "the node had no config.json; unset keys take the firmware defaults"
        else:
            try:
                cur = json.loads(current_bytes.decode("utf-8"))
                if not isinstance(cur, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                note = "the node's config.json was unreadable (%s); unset keys take the defaults" % exc
            else:
                bad = self.problems(cur)
                missing = [k for k in KEYS if k not in cur]
                if bad or missing:
                    note = "the node's config.json was incomplete or invalid (%s); those keys take the defaults" % (
                        "; ".join(bad + ["missing %s" % k for k in missing]))
                for k in KEYS:
                    if k in cur and self.ok(k, cur[k]):
                        cfg[k] = cur[k]
        cfg.update(updates)
        return cfg, note


def updates_from_args(args):
    """The config keys the user set on the command line (absent options are not changed)."""
    out = {}
    for k in KEYS:
        v = getattr(args, k, None)
        if v is not None:
            out[k] = v
    return out


def encode(cfg):
    """config.json bytes as written to the node (stable key order)."""
    return (json.dumps({k: cfg[k] for k in KEYS}, sort_keys=True) + "\n").encode("utf-8")
