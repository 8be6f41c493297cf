"""The real-stack world's radio: one Bumble controller per node (HCI on a pty) and per central
(HCI on a unix socket the host opens), all on one FaultyLink. Run by world.py:

    python3 -m myosim.realstack.linkproc --world W/world.json --nodes 1,2,3 --centrals 1 \
        --radio W/radio.json --faults W/faults.jsonl

When the transports are open it adds to world.json (atomically):
    "stack": "nimble", "hci": ["unix:W/hci0.sock", ...], "node_ptys": {"1": "W/node1.pty", ...}
so the nodes (MICROPYBTUART) and the host (`--backend bumble --world W/world.json`) find them.
Ends on SIGTERM/SIGINT, writing link_stats.json (notifications delivered and lost).
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from bumble.controller import Controller
from bumble.transport import open_transport
from bumble.transport.common import PacketParser, ParserSource

from myosim.realstack.faultlink import FaultConfig, FaultyLink

_DROP_POLL_S = 0.05


def _write_json_atomic(path, obj):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


class HostPort:
    """A central controller's HCI on a unix socket, for one host at a time.

    Bumble's own unix-server transport keeps one H4 parser for every client and lets a
    closing client clear the newer one's socket, so a host that closes and reopens
    (scan, then record) could lose its HCI. Here each new client gets a fresh parser,
    replaces the previous one, and starts like a dongle just plugged in: the
    controller's links are dropped (a real adapter loses them on reset too)."""

    def __init__(self, path, link):
        self.path = str(path)
        self.link = link
        self.source = ParserSource()
        self.controller = None
        self.current = None
        self.server = None

    def on_packet(self, packet):  # controller -> host
        if self.current is not None:
            self.current.write(packet)

    async def start(self):
        port = self

        class _Proto(asyncio.Protocol):
            def connection_made(self, transport):
                if port.current is not None:
                    port.current.close()
                if port.controller is not None:
                    port.link.drop_links(port.controller, reason=0x16)  # local host terminated
                parser = PacketParser()
                parser.set_packet_sink(port.source.sink)
                port.source.parser = parser
                port.current = self.transport = transport

            def data_received(self, data):
                if port.current is self.transport:
                    port.source.parser.feed_data(data)

            def connection_lost(self, exc):
                if port.current is self.transport:
                    port.current = None

        self.server = await asyncio.get_running_loop().create_unix_server(_Proto, self.path)

    async def close(self):
        if self.current is not None:
            self.current.close()
        if self.server is not None:
            self.server.close()


async def _drop_links(link, controllers, drops, stop):
    """Each drop {"node_id", "after_connect_s"}: break that node's link once, that long after its first connection."""
    todo = [dict(d) for d in drops]
    first_seen = {}
    while todo and not stop.is_set():
        now = time.monotonic()
        for d in list(todo):
            c = controllers.get(int(d["node_id"]))
            if c is None:
                todo.remove(d)
                continue
            if c.le_connections and d["node_id"] not in first_seen:
                first_seen[d["node_id"]] = now
            t0 = first_seen.get(d["node_id"])
            if t0 is not None and now - t0 >= float(d.get("after_connect_s", 0)) and c.le_connections:
                link.drop_links(c)
                todo.remove(d)
        try:
            async with asyncio.timeout(_DROP_POLL_S):
                await stop.wait()
        except TimeoutError:
            pass


async def serve(world_json, node_ids, n_centrals, radio, faults_path, drops):
    world_json = Path(world_json)
    d = world_json.parent
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    faults_file = open(faults_path, "a") if faults_path else None
    w0 = json.loads(world_json.read_text())
    link = FaultyLink(FaultConfig.from_dict(radio), faults_file, epoch_ns=w0.get("epoch_ns"), speed=w0.get("speed", 1.0))
    transports = []
    controllers = {}
    ptys = {}
    hci = []
    try:
        for nid in node_ids:
            path = d / ("node%d.pty" % nid)
            if path.is_symlink() or path.exists():
                path.unlink()
            t = await open_transport("pty:%s" % path)
            transports.append(t)
            # Public address left at zero: NimBLE then uses a static random one, which LocalLink routes by.
            controllers[nid] = Controller("node%d" % nid, host_source=t.source, host_sink=t.sink, link=link)
            ptys[str(nid)] = str(path)
        centrals = []
        for k in range(n_centrals):
            sock = d / ("hci%d.sock" % k)
            if sock.exists():
                sock.unlink()
            port = HostPort(sock, link)
            await port.start()
            transports.append(port)
            port.controller = Controller("central%d" % k, host_source=port.source, host_sink=port, link=link)
            centrals.append(port.controller)
            hci.append("unix:%s" % sock)
        world = json.loads(world_json.read_text())
        world.update({"stack": "nimble", "hci": hci, "node_ptys": ptys, "link_pid": os.getpid()})
        _write_json_atomic(world_json, world)
        dropper = asyncio.create_task(_drop_links(link, controllers, drops, stop))
        await stop.wait()
        dropper.cancel()
        try:
            async with asyncio.timeout(1.0):
                await dropper
        except (asyncio.CancelledError, TimeoutError):
            pass
    finally:
        _write_json_atomic(d / "link_stats.json", {"notifications_lost": link.lost, "pdus_delivered": link.delivered})
        for t in transports:
            try:
                async with asyncio.timeout(1.0):
                    await t.close()
            except Exception:  # a pty whose node already died: nothing more to close
                pass
        if faults_file is not None:
            faults_file.close()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m myosim.realstack.linkproc")
    ap.add_argument("--world", required=True)
    ap.add_argument("--nodes", required=True, help="comma-separated node ids")
    ap.add_argument("--centrals", type=int, default=1)
    ap.add_argument("--radio", help="radio.json: loss_pct, burst_len, latency_ms, seed, drops")
    ap.add_argument("--faults", help="faults.jsonl to append injected faults to")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args(argv)
    # Bumble warns for every PDU a node sends on a link that just dropped: only errors unless -v.
    logging.basicConfig(level=logging.DEBUG if a.v else logging.ERROR, stream=sys.stderr)
    radio = json.loads(Path(a.radio).read_text()) if a.radio else {}
    node_ids = [int(x) for x in a.nodes.split(",") if x]
    asyncio.run(serve(a.world, node_ids, a.centrals, radio, a.faults, radio.get("drops", [])))


if __name__ == "__main__":
    main()
