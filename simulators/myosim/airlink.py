"""The connection-event engine of the virtual air: one BLE link between a central and a node.

Why a module of its own: air.py is the server and registry (sockets, nodes, hosts,
scanning, connecting); this is what happens on an established link. Writes, reads and
subscriptions from the host wait for the next connection event; notifications from the
node go out a few packets per event within the event's airtime, may be lost (bursty,
radiomodel.py) or dropped when the central has not subscribed, and reach the host after
the stack's latency, in order. Link loss and orderly disconnects tell each side when a
real stack would (supervision timeout, next event). Every injected fault is logged.
"""

import collections
import struct

from myosim import airwire as W
from myosim import radiomodel as RM

try:
    from myowire import gatt as _gatt

    _CHAR_NAMES = {_gatt.DATA_UUID: "data", _gatt.REPLY_UUID: "reply", _gatt.CONTROL_UUID: "control"}
except ImportError:  # the air works for any peripheral
    _CHAR_NAMES = {}

HOST_ADDR = bytes((0xD0, 0x5E, 0x00, 0x00, 0x00, 0x01))


def frame_info(data):
    """What a notification carries, for the faults log: frame type, seq, fragment index."""
    out = {}
    b = bytes(data)
    if len(b) >= 2 and b[0] & 0xF0 == 0xF0:
        out["frag"] = b[1]
        if not b[0] & 0x01:
            return out
        b = b[2:]
    if len(b) >= 18 and b[0] >> 4 == 1 and 1 <= (b[0] & 0x0F) <= 7:
        out["frame_type"] = b[0] & 0x0F
        out["frame_node"] = b[1]
        out["seq"] = struct.unpack_from("<I", b, 4)[0]
    return out


class _CharTable(dict):
    """value handle -> short name; .props: handle -> GATT property flags."""

    def __init__(self):
        super().__init__()
        self.props = {}


def char_table(services):
    """The node's GATT table as value handle -> name (and .props), for fault records and checks."""
    t = _CharTable()
    for _svc, chars in services:
        for uuid, flags, vh, _cccd, _descs in chars:
            t[vh] = _CHAR_NAMES.get(uuid, uuid)
            t.props[vh] = flags
    return t


class Link:
    """One connection between a central (HostConn) and a node, driven by connection events."""

    def __init__(self, air, node, host, conn, interval_s, mtu, anchor_g):
        self.air = air
        self.node = node
        self.host = host
        self.conn = conn
        self.interval_s = interval_s
        self.mtu = mtu
        self.anchor_g = anchor_g
        self.up = False  # usable by the host (after MTU exchange and discovery)
        self.alive = True
        self.tx = collections.deque()  # (handle, data) notifications waiting for an event
        self.ops = collections.deque()  # host operations waiting for an event
        self.subscribed = set()
        self.reads = {}  # node read req -> host req
        self.timer = None
        self.last_delivery_g = 0.0
        self.settings = air.node_settings(node.node_id)
        self.chars = char_table(node.services)
        self.budget_s = interval_s - 150e-6

    # --------------------------------------------------------- timing

    def next_event_g(self, after_g):
        n = max(0, int((after_g - self.anchor_g) / self.interval_s) + 1)
        return self.anchor_g + n * self.interval_s

    def kick(self):
        if self.timer is None and self.alive and self.up:
            self._schedule(self.next_event_g(self.air.now_g()))

    def _schedule(self, t_g):
        self.timer = self.air.call_at_g(t_g, self._event, t_g)

    def _event(self, t_g):
        self.timer = None
        if not self.alive:
            return
        air = self.air
        if len(air.late_us) < 20000:
            air.late_us.append((air.now_g() - t_g) * 1e6 / air.speed)  # wall us past the event
        # central -> peripheral: queued writes, reads and CCCD writes
        while self.ops:
            _what, _handle, op = self.ops.popleft()
            op(t_g)
        # peripheral -> central: notifications within the event's airtime
        sent = 0
        used = 0.0
        delivered = []
        tx = self.tx
        st = self.settings
        while tx and sent < st["max_packets_per_event"]:
            handle, data = tx[0]
            t_air = RM.packet_airtime_s(len(data), self.mtu, st["phy"])
            if sent and used + t_air > self.budget_s:
                break
            tx.popleft()
            used += t_air
            sent += 1
            if air.lost(self.node.node_id, handle):
                rec = {"kind": "notify_lost", "node": self.node.node_id, "g_s": round(t_g, 6), "handle": handle, "char": self.chars.get(handle, "")}
                rec.update(frame_info(data))
                air.faults.write(rec)
            elif handle in self.subscribed:
                delivered.append(W.pack(W.R_NOTIFY, struct.pack("<H", handle) + data))
            else:  # on air, but the central has not enabled notifications: its stack drops it
                rec = {"kind": "notify_unsubscribed", "node": self.node.node_id, "g_s": round(t_g, 6), "handle": handle, "char": self.chars.get(handle, "")}
                rec.update(frame_info(data))
                air.faults.write(rec)
        if sent:
            self.node.send(W.A_CREDITS, struct.pack("<HH", self.conn, sent))
            air.stats["notify_tx"] += sent
        if delivered:
            self._deliver(t_g, b"".join(delivered))
        if tx or self.ops:
            self._schedule(t_g + self.interval_s)

    def _deliver(self, t_g, payload):
        """Hand bytes to the host after the stack latency, never reordering."""
        t = max(self.last_delivery_g, t_g + RM.latency_s(self.settings, self.air.latency_rng(self.node.node_id)))
        self.last_delivery_g = t
        host = self.host
        self.air.call_at_g(t, lambda: host.transport.write(payload) if not host.closed else None)

    def _result_later(self, t_g, req, status, body=b""):
        self._deliver(t_g, W.pack(W.R_RESULT, struct.pack("<IB", req, status) + bytes(body)))

    # --------------------------------------------------------- traffic

    def queue_notify(self, handle, data):
        if not self.alive:  # the link died; the node learns after the supervision timeout
            self.air.flushed(self.node.node_id, handle, self.chars.get(handle, ""), data)
            return
        self.tx.append((handle, data))
        self.air.stats["notify_rx"] += 1
        self.kick()

    def _host_op(self, what, handle, fn):
        self.ops.append((what, handle, fn))
        self.kick()

    def host_write(self, req, handle, response, data):
        ch = self.chars.get(handle)
        props = self.air_props(handle)
        if ch is None or not (props & (0x04 | 0x08)):
            self.host.result(req, 1, b"handle %d is not a writable characteristic" % handle)
            return
        if not response and len(data) > self.mtu - 3:
            self.host.result(req, 1, b"write without response of %d bytes exceeds MTU-3 = %d" % (len(data), self.mtu - 3))
            return
        if len(data) > 512:
            self.host.result(req, 1, b"attribute values are limited to 512 bytes")
            return

        def op(t_g):
            self.node.send(W.A_WRITE, struct.pack("<HH", self.conn, handle) + data)
            if response:  # the write response travels back in the following event
                self._result_later(t_g + self.interval_s, req, 0)

        self._host_op("write", handle, op)
        if not response:
            self.host.result(req, 0)

    def host_read(self, req, handle):
        if handle not in self.chars or not (self.air_props(handle) & 0x02):
            self.host.result(req, 1, b"handle %d is not a readable characteristic" % handle)
            return

        def op(t_g):
            nreq = self.air.next_read_req()
            self.reads[nreq] = req
            self.air.log("read request %d handle %d" % (nreq, handle))
            self.node.send(W.A_READ_REQ, struct.pack("<HHH", self.conn, handle, nreq))

        self._host_op("read", handle, op)

    def read_response(self, nreq, status, data):
        req = self.reads.pop(nreq, None)
        self.air.log("read response %d -> %r status %d" % (nreq, req, status))
        if req is None or not self.alive:
            return
        t_g = self.next_event_g(self.air.now_g())
        if status:
            self._result_later(t_g, req, 2, b"read not permitted (the peripheral denied it)")
        else:
            self._result_later(t_g, req, 0, data)

    def host_subscribe(self, req, handle, on):
        if not (self.air_props(handle) & 0x30):
            self.host.result(req, 1, b"handle %d does not notify" % handle)
            return

        def op(t_g):
            (self.subscribed.add if on else self.subscribed.discard)(handle)
            self._result_later(t_g + self.interval_s, req, 0)

        self._host_op("subscribe", handle, op)

    def air_props(self, handle):
        return self.chars.props.get(handle, 0)

    # --------------------------------------------------------- endings

    def terminate_local(self, by_node, req=None):
        """An orderly disconnect: the peer learns at the next connection event."""
        if not self.alive:
            if req is not None:
                self.host.result(req, 0)
            return
        t_g = self.next_event_g(self.air.now_g())
        self._close()

        def tell():
            self.node.send(W.A_DISCONNECT, struct.pack("<HB", self.conn, W.REASON_LOCAL_HOST if by_node else W.REASON_REMOTE_USER) + HOST_ADDR)
            if by_node:
                self.host.send(W.R_DISCONNECTED, bytes((W.REASON_REMOTE_USER,)))
            elif req is not None:
                self.host.result(req, 0)
            self._after_close()

        self.air.call_at_g(t_g, tell)

    def lose(self, cause, down_until_s=None):
        """Link loss: traffic stops now; each side is told after the supervision timeout."""
        if not self.alive:
            return
        self._close()
        t_tell = self.air.now_g() + self.settings["supervision_timeout_ms"] * 1e-3

        def tell():
            self.node.send(W.A_DISCONNECT, struct.pack("<HB", self.conn, W.REASON_SUPERVISION_TIMEOUT) + HOST_ADDR)
            self.host.send(W.R_DISCONNECTED, bytes((W.REASON_SUPERVISION_TIMEOUT,)))
            self._after_close()

        if cause in ("node_exit", "host_exit"):
            tell()
        else:
            self.air.call_at_g(t_tell, tell)

    def _close(self):
        self.alive = False
        self.up = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for handle, data in self.tx:
            self.air.flushed(self.node.node_id, handle, self.chars.get(handle, ""), data)
        self.tx.clear()
        for what, handle, _fn in self.ops:  # host operations that never reached the node
            self.air.faults.write({"kind": "host_op_flushed", "node": self.node.node_id, "g_s": round(self.air.now_g(), 6), "op": what, "handle": handle, "char": self.chars.get(handle, "")})
        self.ops.clear()

    def _after_close(self):
        if self.node.links.get(self.conn) is self:
            del self.node.links[self.conn]
        if self.host.link is self:
            self.host.link = None
