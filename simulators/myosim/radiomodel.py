"""Radio model of the virtual air: timing, loss and outages, all seeded per node.

Why separate from air.py: these are pure, deterministic functions of the
seed and the node id (testable without sockets), while air.py only moves
bytes at the times they give.

Times are global simulation seconds (docs/ARCHITECTURE.md).
"""

import math
import random

DEFAULTS = {
    "seed": 0,
    "loss_pct": 0.0,  # long-run fraction of notifications lost (Gilbert-Elliott)
    "burst_len": 3.0,  # mean run of consecutive lost notifications (packets)
    "interval_ms": [7.5, 50.0],  # connection interval drawn per node and connection, 1.25 ms steps
    "latency_ms": 0.6,  # fixed host-side delivery latency after the connection event
    "jitter_ms": 0.8,  # mean of the exponential extra latency (host stack / scheduling)
    "phy": "2M",  # "1M" or "2M": airtime per packet
    "max_packets_per_event": 6,  # controller limit of notifications per connection event
    "connect_events": 4,  # events from CONNECT_IND to a usable link (MTU + discovery)
    "supervision_timeout_ms": 500.0,  # silence before both sides declare a dead link lost
    "central_mtu": 247,  # what the central asks for in the MTU exchange
    "rssi_dbm": [-80.0, -45.0],  # per-node mean RSSI range; reports add N(0, 2 dB)
    "disconnects": [],  # [{"node": id, "at_s": g, "down_s": s}, ...] forced link losses
    "random_disconnects_per_min": 0.0,  # extra seeded link losses per node
    "random_down_s": [0.5, 3.0],  # outage length range of random link losses
    "per_node": {},  # {"3": {"loss_pct": 10, ...}} overrides of loss_pct/burst_len/interval_ms
}

_PER_NODE_KEYS = ("loss_pct", "burst_len", "interval_ms")


def radio_config(overrides=None):
    """Defaults merged with overrides; raises ValueError naming a bad field and the fix."""
    cfg = dict(DEFAULTS)
    for k, v in (overrides or {}).items():
        if k not in DEFAULTS:
            raise ValueError("unknown radio setting %r; known: %s" % (k, ", ".join(sorted(DEFAULTS))))
        cfg[k] = v
    _check(cfg, "")
    for nid, ov in cfg["per_node"].items():
        for k in ov:
            if k not in _PER_NODE_KEYS:
                raise ValueError("per_node[%s]: %r cannot be set per node; use one of %s" % (nid, k, ", ".join(_PER_NODE_KEYS)))
        _check(dict(cfg, **ov), "per_node[%s]." % nid)
    for d in cfg["disconnects"]:
        if not {"node", "at_s", "down_s"} <= set(d) or d["down_s"] < 0:
            raise ValueError("disconnects entries need node, at_s and down_s >= 0, got %r" % (d,))
    if cfg["phy"] not in ("1M", "2M"):
        raise ValueError("phy must be '1M' or '2M', got %r" % (cfg["phy"],))
    return cfg


def _check(cfg, where):
    if not 0 <= cfg["loss_pct"] < 100:
        raise ValueError("%sloss_pct must be in [0, 100), got %r" % (where, cfg["loss_pct"]))
    if cfg["burst_len"] < 1:
        raise ValueError("%sburst_len (mean lost packets per burst) must be >= 1, got %r" % (where, cfg["burst_len"]))
    lo, hi = cfg["interval_ms"]
    if not 7.5 <= lo <= hi <= 4000:
        raise ValueError("%sinterval_ms must be [lo, hi] within 7.5-4000 ms, got %r" % (where, cfg["interval_ms"]))


def node_settings(cfg, node_id):
    """The settings that apply to one node (per_node overrides applied)."""
    out = dict(cfg)
    out.update(cfg["per_node"].get(str(node_id), {}))
    return out


def node_rng(cfg, node_id, purpose):
    """An independent, reproducible random stream per (seed, node, purpose)."""
    return random.Random("myostride-air:%s:%s:%s" % (cfg["seed"], node_id, purpose))


class GilbertElliott:
    """Two-state bursty loss: in Bad every packet is lost, in Good none.

    With P(G->B) = p and P(B->G) = r the mean burst is 1/r packets and the
    long-run loss is p / (p + r); both are set from loss_pct and burst_len.
    """

    def __init__(self, loss_pct, burst_len, rng):
        self.rng = rng
        loss = loss_pct / 100.0
        self.r = 1.0 / burst_len
        self.p = loss * self.r / (1.0 - loss) if loss > 0 else 0.0
        self.bad = False
        self.sent = 0
        self.lost = 0

    def next_lost(self):
        """Advance one packet; True if it is lost."""
        u = self.rng.random()
        if self.bad:
            self.bad = u >= self.r
        else:
            self.bad = u < self.p
        self.sent += 1
        if self.bad:
            self.lost += 1
        return self.bad


def pick_interval_s(settings, rng):
    """A connection interval in the node's range, on the 1.25 ms grid of the spec."""
    lo, hi = settings["interval_ms"]
    steps_lo = math.ceil(lo / 1.25 - 1e-9)
    steps_hi = math.floor(hi / 1.25 + 1e-9)
    return rng.randint(steps_lo, max(steps_lo, steps_hi)) * 1.25e-3


def packet_airtime_s(att_len, mtu, phy):
    """Airtime of one notification incl. link-layer fragments, IFS and the empty ack."""
    ll_max = 251 if mtu > 23 else 27  # data length extension with a large MTU
    l2cap = att_len + 3 + 4  # ATT opcode + handle, L2CAP header
    n_ll = max(1, -(-l2cap // ll_max))
    us_per_byte = 8.0 if phy == "1M" else 4.0
    per_pdu_overhead = 10 if phy == "1M" else 11  # preamble, access address, header, MIC-less CRC
    t = 0.0
    left = l2cap
    for _ in range(n_ll):
        chunk = min(ll_max, left)
        left -= chunk
        t += (chunk + per_pdu_overhead) * us_per_byte + 150 + per_pdu_overhead * us_per_byte + 150
    return t * 1e-6


def latency_s(settings, rng):
    """Host-side delay of a packet after its connection event."""
    j = settings["jitter_ms"]
    return (settings["latency_ms"] + (rng.expovariate(1.0 / j) if j > 0 else 0.0)) * 1e-3


def outages(cfg, node_id, horizon_s):
    """Forced link losses for a node: [(at_s, down_s, cause)], sorted.

    Scheduled ones from cfg["disconnects"], plus a seeded Poisson process of
    random ones over [0, horizon_s]."""
    out = [(float(d["at_s"]), float(d["down_s"]), "scheduled") for d in cfg["disconnects"] if int(d["node"]) == int(node_id)]
    rate = cfg["random_disconnects_per_min"] / 60.0
    if rate > 0:
        rng = node_rng(cfg, node_id, "outages")
        lo, hi = cfg["random_down_s"]
        t = rng.expovariate(rate)
        while t < horizon_s:
            out.append((t, rng.uniform(lo, hi), "random"))
            t += rng.expovariate(rate)
    return sorted(out)


def mean_rssi_dbm(cfg, node_id):
    lo, hi = cfg["rssi_dbm"]
    return node_rng(cfg, node_id, "rssi").uniform(lo, hi)
