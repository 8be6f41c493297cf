"""A Bumble LocalLink with radio faults between the controllers: loss bursts, latency, link drops.

Why here: the faults must hit the real stacks' own paths (NimBLE in the node,
the Bumble host in the recorder), so they are injected where the two meet,
the link between the virtual controllers, never inside either stack.

- Loss: a Gilbert-Elliott chain per link drops ATT notifications (node -> central
  data), so the host sees sequence gaps and asks for resends. Only notifications:
  a real link layer retransmits everything else until the link itself fails,
  which is the next fault.
- Link drop: both controllers report a disconnection with reason 0x08
  (connection timeout), as a supervision timeout does; NimBLE and the Bumble host
  each see a Disconnection Complete event.
- Latency: every L2CAP PDU is delivered latency_ms later, in order.

There is no air time: a PDU costs only CPU (no connection events, no PHY rate).
"""

import asyncio
import json
import random
import time

from bumble import core
from bumble.link import LocalLink

_ATT_CID = 0x0004
_ATT_HANDLE_VALUE_NTF = 0x1B
_REASON_CONNECTION_TIMEOUT = 0x08


class FaultConfig:
    """loss_pct (mean), burst_len (mean lost notifications per burst), latency_ms, seed."""

    def __init__(self, loss_pct=0.0, burst_len=4.0, latency_ms=0.0, seed=1):
        if not 0 <= loss_pct < 100:
            raise ValueError("loss_pct must be 0-100, got %r" % loss_pct)
        if burst_len < 1:
            raise ValueError("burst_len must be >= 1, got %r" % burst_len)
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0, got %r" % latency_ms)
        self.loss_pct = float(loss_pct)
        self.burst_len = float(burst_len)
        self.latency_ms = float(latency_ms)
        self.seed = int(seed)

    @classmethod
    def from_dict(cls, d):
        d = dict(d or {})
        return cls(d.get("loss_pct", 0.0), d.get("burst_len", 4.0), d.get("latency_ms", 0.0), d.get("seed", 1))

    def to_dict(self):
        return {"loss_pct": self.loss_pct, "burst_len": self.burst_len, "latency_ms": self.latency_ms, "seed": self.seed}


class _Burst:
    """Two-state loss chain: good -> bad with p_enter, bad -> good with 1/burst_len."""

    def __init__(self, loss, burst_len, rng):
        self.p_leave = 1.0 / burst_len
        self.p_enter = loss * self.p_leave / (1.0 - loss) if loss > 0 else 0.0
        self.bad = False
        self.rng = rng

    def lose(self):
        r = self.rng.random()
        if self.bad:
            if r < self.p_leave:
                self.bad = False
        elif r < self.p_enter:
            self.bad = True
        return self.bad


class FaultyLink(LocalLink):
    """LocalLink whose LE ACL traffic passes the configured faults; logs them as JSON lines."""

    def __init__(self, config=None, faults_file=None, epoch_ns=None, speed=1.0):
        super().__init__()
        self._epoch_ns = time.time_ns() if epoch_ns is None else int(epoch_ns)
        self._speed = float(speed)
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self._chains = {}  # (sender, receiver) controller names -> _Burst
        self._faults_file = faults_file
        self._burst_start = {}
        self.lost = 0
        self.delivered = 0

    def _log(self, rec):
        """One fault, in the air's record shape (simulators/TRUTH.md): kind, node, g_s; source "link"."""
        if self._faults_file is not None:
            rec["g_s"] = round((time.time_ns() - self._epoch_ns) * self._speed / 1e9, 6)
            rec["source"] = "link"
            self._faults_file.write(json.dumps(rec) + "\n")
            self._faults_file.flush()

    def send_acl_data(self, sender_controller, destination_address, transport, data):
        if transport != core.PhysicalTransport.LE:
            return super().send_acl_data(sender_controller, destination_address, transport, data)
        dest = self.find_le_controller(destination_address)
        if dest is None:
            return None
        if self.config.loss_pct > 0 and len(data) >= 5 and data[2] | data[3] << 8 == _ATT_CID and data[4] == _ATT_HANDLE_VALUE_NTF:
            key = (sender_controller.name, dest.name)
            chain = self._chains.get(key)
            if chain is None:
                chain = self._chains[key] = _Burst(self.config.loss_pct / 100.0, self.config.burst_len, self._rng)
            if chain.lose():
                self.lost += 1
                if key not in self._burst_start:
                    self._burst_start[key] = self.lost
                return None
            if key in self._burst_start:
                n = self.lost - self._burst_start.pop(key) + 1
                self._log({"kind": "notify_lost", "node": _node_id(sender_controller), "to": dest.name, "notifications": n})
        self.delivered += 1
        source_address = sender_controller.random_address
        loop = asyncio.get_running_loop()
        deliver = lambda: dest.on_link_acl_data(source_address, transport, data)  # noqa: E731
        if self.config.latency_ms > 0:
            loop.call_later(self.config.latency_ms / 1000.0, deliver)
        else:
            loop.call_soon(deliver)
        return None

    def drop_links(self, controller, reason=_REASON_CONNECTION_TIMEOUT):
        """Break every LE connection of `controller` as a supervision timeout does; returns how many."""
        n = 0
        for conn in list(controller.le_connections.values()):
            peer = self.find_le_controller(conn.peer_address)
            controller.on_le_disconnected(conn, reason)
            if peer is not None:
                for pconn in list(peer.le_connections.values()):
                    if pconn.peer_address == conn.self_address:
                        peer.on_le_disconnected(pconn, reason)
            n += 1
            self._log({"kind": "disconnect", "node": _node_id(controller), "cause": "link_drop", "reason": reason})
        return n


def _node_id(controller):
    """Node controllers are named node<id> (linkproc.py); 0 for anything else."""
    name = controller.name or ""
    return int(name[4:]) if name.startswith("node") and name[4:].isdigit() else 0
