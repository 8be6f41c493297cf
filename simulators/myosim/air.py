"""The virtual air: carries BLE traffic between simulated nodes and host backends.

Why: so the real firmware (under `micropython`, with simulators/upy/bluetooth.py)
and the host's public bleak API meet over something that behaves like a radio:
advertising with RSSI, connection events at a per-node interval, a few
packets per event, latency jitter, bursty loss of notifications, forced link
losses with supervision timeouts. The radio numbers come from radiomodel.py;
every injected fault is appended to a JSON-lines faults log for truth.json.

Run: python -m myosim.air --world world.json [--radio radio.json] [--faults faults.jsonl]
Nodes connect on world["air_socket"], host backends on world["host_socket"].
One host connection carries either a scanner or one central link.
"""

import argparse
import asyncio
import collections
import ctypes
import json
import os
import selectors
import signal
import struct
import sys
import time

from myosim import airwire as W
from myosim import radiomodel as RM
from myosim.airlink import HOST_ADDR, Link, char_table, frame_info
from myosim.nodefiles import read_world

ADV_REPORT_PERIOD_S = 0.1  # wall seconds between scan report rounds
_PR_SET_TIMERSLACK = 29


class FaultLog:
    """Append-only JSON lines; flushed per record so a killed run keeps them."""

    def __init__(self, path):
        self.f = open(path, "a") if path else None
        self.count = collections.Counter()

    def write(self, rec):
        self.count[rec["kind"]] += 1
        if self.f:
            self.f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.f.flush()

    def close(self):
        if self.f:
            self.f.close()


class _Conn(asyncio.Protocol):
    """Framed message connection; subclasses implement on_message."""

    def __init__(self, air):
        self.air = air
        self.framer = W.Framer()
        self.transport = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            msgs = self.framer.feed(data)
        except ValueError as e:
            self.air.log("bad message stream: %s" % e)
            self.transport.close()
            return
        for mtype, body in msgs:
            try:
                self.on_message(mtype, body)
            except Exception as e:  # a malformed message must not kill the air
                self.air.log("error handling message %d: %r" % (mtype, e))

    def connection_lost(self, exc):
        self.closed = True
        self.on_close()

    def send(self, mtype, body=b""):
        if not self.closed:
            self.transport.write(W.pack(mtype, body))


class NodeConn(_Conn):
    """One micropython node process."""

    def __init__(self, air):
        super().__init__(air)
        self.node_id = None
        self.addr = None
        self.name = ""
        self.mtu = 23
        self.adv = None  # (interval_us, connectable, adv, resp) or None
        self.services = []
        self.links = {}  # conn handle -> Link
        self.next_conn = 0

    def on_message(self, mtype, body):
        if mtype == W.N_NOTIFY:
            conn, handle = struct.unpack_from("<HH", body, 0)
            link = self.links.get(conn)
            if link is not None:
                link.queue_notify(handle, body[4:])
            else:  # sent on a link already gone: never on air
                self.air.flushed(self.node_id, handle, "", body[4:])
        elif mtype == W.N_READ_RESP:
            req, status = struct.unpack_from("<HB", body, 0)
            for link in self.links.values():
                link.read_response(req, status, body[3:])
        elif mtype == W.N_ADV:
            interval_us, conn = struct.unpack_from("<iB", body, 0)
            if interval_us < 0:
                self.adv = None
            else:
                la = body[5]
                adv = body[6 : 6 + la]
                lr = body[6 + la]
                resp = body[7 + la : 7 + la + lr]
                self.adv = (interval_us, bool(conn), adv, resp)
                self.air.node_advertising(self)
        elif mtype == W.N_DISCONNECT:
            (conn,) = struct.unpack_from("<H", body, 0)
            link = self.links.get(conn)
            if link is not None:
                link.terminate_local(by_node=True)
        elif mtype == W.N_SERVICES:
            self.services = json.loads(body)
        elif mtype == W.N_HELLO:
            h = json.loads(body)
            self.node_id = h["node_id"]
            self.addr = W.addr_bytes(h["addr"])
            self.name = h.get("name", "")
            self.mtu = h.get("mtu", 23)
            self.air.register_node(self)
        elif mtype == W.N_CONFIG:
            h = json.loads(body)
            self.name = h.get("name", self.name)
            self.mtu = h.get("mtu", self.mtu)

    def on_close(self):
        self.adv = None
        for link in list(self.links.values()):
            link.lose("node_exit")
        self.air.unregister_node(self)


class HostConn(_Conn):
    """One host backend socket: a scanner or one BleakClient's link."""

    def __init__(self, air):
        super().__init__(air)
        self.scanning = False
        self.link = None
        self.pending_connect = None  # (req, address, mtu)

    def on_message(self, mtype, body):
        air = self.air
        if mtype == W.H_WRITE:
            req, handle, resp = struct.unpack_from("<IHB", body, 0)
            if self._need_link(req):
                self.link.host_write(req, handle, bool(resp), body[7:])
        elif mtype == W.H_READ:
            req, handle = struct.unpack_from("<IH", body, 0)
            if self._need_link(req):
                self.link.host_read(req, handle)
        elif mtype == W.H_SUBSCRIBE:
            req, handle, on = struct.unpack_from("<IHB", body, 0)
            if self._need_link(req):
                self.link.host_subscribe(req, handle, bool(on))
        elif mtype == W.H_SCAN:
            self.scanning = bool(body[0])
            air.scanning_changed()
        elif mtype == W.H_CONNECT:
            (req,) = struct.unpack_from("<I", body, 0)
            h = json.loads(body[4:])
            if self.link is not None or self.pending_connect is not None:
                self.result(req, 1, b"already connected or connecting")
                return
            self.pending_connect = (req, W.addr_bytes(h["address"]), int(h.get("mtu", air.cfg["central_mtu"])))
            air.try_connect(self)
        elif mtype == W.H_DISCONNECT:
            (req,) = struct.unpack_from("<I", body, 0)
            if self.pending_connect is not None:
                self.pending_connect = None
                self.result(req, 0)
            elif self.link is not None:
                self.link.terminate_local(by_node=False, req=req)
            else:
                self.result(req, 0)

    def _need_link(self, req):
        if self.link is None or not self.link.up:
            self.result(req, 1, b"not connected")
            return False
        return True

    def result(self, req, status, body=b""):
        self.send(W.R_RESULT, struct.pack("<IB", req, status) + bytes(body))

    def on_close(self):
        self.scanning = False
        self.pending_connect = None
        if self.link is not None:
            self.link.lose("host_exit")
        self.air.host_gone(self)


def _bleak_services(services):
    """GATT table for the host: [{"uuid", "handle", "chars": [{"uuid", "handle", "props", "descs"}]}]."""
    out = []
    h = 1
    for suuid, chars in services:
        svc_handle = h
        h += 1
        cs = []
        for uuid, flags, vh, cccd, descs in chars:
            h = max(h, vh + 1, cccd + 1)
            d = [{"uuid": "00002902-0000-1000-8000-00805f9b34fb", "handle": cccd}] if cccd else []
            for du, _df, dh in descs:
                d.append({"uuid": du, "handle": dh})
                h = max(h, dh + 1)
            cs.append({"uuid": uuid, "handle": vh, "props": flags, "descs": d})
        if cs:
            svc_handle = cs[0]["handle"] - 2
        out.append({"uuid": suuid, "handle": svc_handle, "chars": cs})
    return out


class Air:
    """The asyncio server and the registry of nodes, hosts and links."""

    def __init__(self, world, cfg, faults_path=None, verbose=False):
        self.world = world
        self.cfg = cfg
        self.epoch_ns = int(world["epoch_ns"])
        self.speed = float(world["speed"])
        self.faults = FaultLog(faults_path)
        self.verbose = verbose
        self.nodes = {}  # addr -> NodeConn
        self.hosts = set()
        self.down_until = {}  # node_id -> g
        self._ge = {}
        self._lat_rng = {}
        self._rssi = {}
        self._node_rng = {}
        self._read_req = 0
        self._scan_task = None
        self._outage_timers = []
        self.stats = collections.Counter()
        self.late_us = []  # how late connection-event timers fired (wall us), first 20000
        self.loop = None

    # --------------------------------------------------------- time

    def now_g(self):
        return (time.time_ns() - self.epoch_ns) * self.speed / 1e9

    def call_at_g(self, t_g, fn, *args):
        delay = (t_g - self.now_g()) / self.speed
        if delay <= 0:
            return self.loop.call_soon(fn, *args)
        return self.loop.call_later(delay, fn, *args)

    # --------------------------------------------------------- per-node model

    def node_settings(self, node_id):
        return RM.node_settings(self.cfg, node_id)

    def lost(self, node_id, handle):
        ge = self._ge.get((node_id, handle))
        if ge is None:
            s = self.node_settings(node_id)
            ge = RM.GilbertElliott(s["loss_pct"], s["burst_len"], RM.node_rng(self.cfg, node_id, "loss:%d" % handle))
            self._ge[(node_id, handle)] = ge
        return ge.next_lost()

    def latency_rng(self, node_id):
        r = self._lat_rng.get(node_id)
        if r is None:
            r = self._lat_rng[node_id] = RM.node_rng(self.cfg, node_id, "latency")
        return r

    def flushed(self, node_id, handle, char, data):
        """Log a notification that never went on air because its link was lost."""
        rec = {"kind": "notify_flushed", "node": node_id, "g_s": round(self.now_g(), 6), "handle": handle, "char": char}
        rec.update(frame_info(data))
        self.faults.write(rec)

    def next_read_req(self):
        self._read_req = (self._read_req + 1) & 0xFFFF
        return self._read_req

    def log(self, msg):
        if self.verbose:
            print("air: %s" % msg, file=sys.stderr, flush=True)

    # --------------------------------------------------------- nodes

    def register_node(self, node):
        old = self.nodes.get(node.addr)
        if old is not None and old is not node:
            old.transport.close()
        self.nodes[node.addr] = node
        self.log("node %s (%s) on the air" % (node.node_id, W.addr_text(node.addr)))
        if node.node_id not in self._node_rng:
            self._node_rng[node.node_id] = RM.node_rng(self.cfg, node.node_id, "interval")
            self._schedule_outages(node.node_id)

    def unregister_node(self, node):
        if node.addr is not None and self.nodes.get(node.addr) is node:
            del self.nodes[node.addr]

    def is_down(self, node_id):
        return self.now_g() < self.down_until.get(node_id, -1.0)

    def node_advertising(self, node):
        for host in list(self.hosts):
            if host.pending_connect is not None and host.pending_connect[1] == node.addr:
                self.try_connect(host)

    def _schedule_outages(self, node_id):
        horizon = float(self.world.get("seconds", 0)) + 60.0
        for at_s, down_s, cause in RM.outages(self.cfg, node_id, horizon):
            self._outage_timers.append(self.call_at_g(at_s, self._outage, node_id, at_s, down_s, cause))

    def _outage(self, node_id, at_s, down_s, cause):
        until = at_s + down_s
        self.down_until[node_id] = max(self.down_until.get(node_id, -1.0), until)
        connected = False
        for node in list(self.nodes.values()):
            if node.node_id == node_id:
                for link in list(node.links.values()):
                    connected = connected or link.alive
                    link.lose(cause)
        self.faults.write({"kind": "disconnect", "node": node_id, "g_s": round(self.now_g(), 6), "at_s": at_s, "down_until_s": until, "cause": cause, "connected": connected})
        self.call_at_g(until, self._outage_over, node_id)

    def _outage_over(self, node_id):
        for node in list(self.nodes.values()):
            if node.node_id == node_id and node.adv is not None:
                self.node_advertising(node)

    # --------------------------------------------------------- hosts

    def host_gone(self, host):
        self.hosts.discard(host)
        self.scanning_changed()

    def try_connect(self, host):
        """Connect when the node advertises connectable and is in range; else keep waiting."""
        req, addr, mtu = host.pending_connect
        node = self.nodes.get(addr)
        if node is None or node.adv is None or not node.adv[1] or self.is_down(node.node_id):
            return
        host.pending_connect = None
        adv_before = node.adv
        node.adv = None  # the stack stops advertising when a central connects
        s = self.node_settings(node.node_id)
        interval = RM.pick_interval_s(s, self._node_rng[node.node_id])
        now = self.now_g()
        conn = node.next_conn
        node.next_conn = (node.next_conn + 1) % 0x0EFF
        neg_mtu = max(23, min(mtu, node.mtu))
        link = Link(self, node, host, conn, interval, neg_mtu, now + interval)
        node.links[conn] = link
        host.link = link
        t_connect = now + interval
        t_ready = now + interval * (1 + s["connect_events"])

        def connected():
            if not link.alive:
                # the central gave up before the connection was made: the node never left
                # advertising (issue 12: a recorder stopped while connecting left nodes silent)
                if node.adv is None and not node.links:
                    node.adv = adv_before
                return
            node.send(W.A_CONNECT, struct.pack("<HB", conn, 0) + HOST_ADDR)

        def mtu_exchanged():
            if not link.alive:
                return
            node.send(W.A_MTU, struct.pack("<HH", conn, neg_mtu))
            itv = int(round(interval / 1.25e-3))
            node.send(W.A_CONN_UPDATE, struct.pack("<HHHH", conn, itv, 0, int(s["supervision_timeout_ms"] / 10)))

        def ready():
            if not link.alive:
                return
            link.up = True
            link.chars = char_table(node.services)
            body = {"mtu": neg_mtu, "interval_ms": interval * 1e3, "conn": conn, "name": node.name, "node_id": node.node_id, "services": _bleak_services(node.services)}
            host.result(req, 0, json.dumps(body).encode())
            link.kick()

        self.call_at_g(t_connect, connected)
        self.call_at_g(t_connect + interval, mtu_exchanged)
        self.call_at_g(t_ready, ready)
        self.log("link node %s conn %d interval %.2f ms mtu %d" % (node.node_id, conn, interval * 1e3, neg_mtu))
        # Truth for clock-sync benchmarks: this link's connection events are at anchor_g + n * interval_s.
        self.faults.write({"kind": "link", "node": node.node_id, "g_s": round(now, 6), "conn": conn,
                           "anchor_g": now + interval, "interval_s": interval})

    def scanning_changed(self):
        want = any(h.scanning for h in self.hosts)
        if want and self._scan_task is None:
            self._scan_task = self.loop.create_task(self._scan_reports())
        elif not want and self._scan_task is not None:
            self._scan_task.cancel()
            self._scan_task = None

    async def _scan_reports(self):
        rng = RM.node_rng(self.cfg, "scan", "rssi-noise")
        last = {}
        while True:
            now = self.now_g()
            scanners = [h for h in self.hosts if h.scanning and not h.closed]
            for node in list(self.nodes.values()):
                if node.adv is None or self.is_down(node.node_id):
                    continue
                interval_s, conn, adv, resp = node.adv[0] * 1e-6, node.adv[1], node.adv[2], node.adv[3]
                if now - last.get(node.addr, -1e9) < interval_s:
                    continue
                last[node.addr] = now
                rssi = self._rssi.get(node.node_id)
                if rssi is None:
                    rssi = self._rssi[node.node_id] = RM.mean_rssi_dbm(self.cfg, node.node_id)
                r = int(round(max(-127, min(20, rssi + rng.gauss(0, 2.0)))))
                body = struct.pack("<6sbB", node.addr, r, 1 if conn else 0) + bytes((len(adv),)) + adv + bytes((len(resp),)) + resp
                for h in scanners:
                    h.send(W.R_ADV, body)
            await asyncio.sleep(ADV_REPORT_PERIOD_S)

    # --------------------------------------------------------- serving

    async def serve(self, stop_event=None):
        self.loop = asyncio.get_running_loop()
        paths = (self.world["air_socket"], self.world["host_socket"])
        for p in paths:
            if os.path.exists(p):
                os.unlink(p)

        def host_factory():
            h = HostConn(self)
            self.hosts.add(h)
            return h

        s1 = await self.loop.create_unix_server(lambda: NodeConn(self), paths[0])
        s2 = await self.loop.create_unix_server(host_factory, paths[1])
        stop_event = stop_event or asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, stop_event.set)
            except (NotImplementedError, RuntimeError):
                pass
        self.log("listening: nodes %s, hosts %s, speed %.2f" % (paths[0], paths[1], self.speed))
        try:
            await stop_event.wait()
        finally:
            s1.close()
            s2.close()
            for t in self._outage_timers:
                t.cancel()
            self.faults.close()
            for p in paths:
                try:
                    os.unlink(p)
                except OSError:
                    pass
            late = sorted(self.late_us)
            if late:
                self.log("event timers late (wall us): median %.0f, p99 %.0f over %d events" % (late[len(late) // 2], late[int(len(late) * 0.99)], len(late)))
            self.log("stopped: %s" % dict(self.stats))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m myosim.air", description="Run the virtual BLE air of a simulated world.")
    ap.add_argument("--world", required=True, help="world.json (epoch_ns, speed, air_socket, host_socket, seconds)")
    ap.add_argument("--radio", help="radio settings JSON (see simulators/RADIO.md); defaults if omitted")
    ap.add_argument("--faults", help="append injected faults here as JSON lines")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    world = read_world(a.world)
    try:
        cfg = RM.radio_config(json.loads(open(a.radio).read()) if a.radio else None)
    except ValueError as e:
        print("myosim.air: bad radio settings: %s" % e, file=sys.stderr)
        return 2
    _fine_timers()
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(Air(world, cfg, a.faults, a.verbose).serve())
    finally:
        loop.close()
    return 0


def _fine_timers():
    """Connection events need sub-millisecond timers: epoll rounds timeouts up to whole
    milliseconds (timers ~0.6 ms late on median here), select() takes microseconds
    (~0.1 ms late), and a 1 us timer slack trims the kernel's 50 us default. The air
    watches a few dozen sockets, far below select()'s descriptor limit."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
