"""One simulated link end to end: bleak public API -> sim backend -> air -> `bluetooth` emulation -> probe node.

Checks what a real stack does: MTU exchange and notifications cut to MTU-3,
ENOMEM when the notify buffers are in flight (and buffers coming back at
connection events), writes truncated to the characteristic buffer, denied
reads, and link loss reaching both sides (bleak's disconnected callback, the
node's IRQ 2) with a reconnect afterwards and the fault in the faults log.
"""

import asyncio
import os
import struct

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from myosim.backend import SimClient, SimScanner
from myosim.world import World
from myowire import gatt
from sim_radio_helpers import HERE, cleanup, make_world

SMALL_UUID = "4d59f0a1-0a3e-4c6f-9d21-6d796f737472"
DENY_UUID = "4d59f0a2-0a3e-4c6f-9d21-6d796f737472"


@pytest.fixture
def probe_world(monkeypatch, tmp_path_factory):
    worlds = []

    def start(radio=None, speed=2.0):
        d, wj, njs = make_world(1, speed=speed, base=tmp_path_factory.mktemp("w"))
        monkeypatch.setenv("MYOSTRIDE_SIM_WORLD", str(wj))
        w = World(njs, wj, radio or {"seed": 5}, firmware_dir=HERE, script="upy_probe.py")
        worlds.append((w, d))
        return w.start()

    yield start
    for w, d in worlds:
        w.stop()
        cleanup(d)


class Probe:
    """A connected BleakClient plus the REPLY texts and DATA notifications it got."""

    def __init__(self, client):
        self.client = client
        self.replies = asyncio.Queue()
        self.data = []

    async def start(self):
        await self.client.start_notify(gatt.REPLY_UUID, lambda ch, b: self.replies.put_nowait(bytes(b).decode()))
        await self.client.start_notify(gatt.DATA_UUID, lambda ch, b: self.data.append(bytes(b)))
        return self

    async def command(self, text):
        await self.client.write_gatt_char(gatt.CONTROL_UUID, text.encode(), response=True)

    async def reply(self, prefix, timeout=5.0):
        while True:
            r = await asyncio.wait_for(self.replies.get(), timeout)
            if r.startswith(prefix):
                return r


async def _find(name="probe", timeout=5.0):
    dev = await BleakScanner.find_device_by_name(name, timeout=timeout, backend=SimScanner)
    assert dev is not None, "scanner did not see %s" % name
    return dev


def test_scan_sees_advertisement_with_rssi_and_service(probe_world):
    probe_world()

    async def main():
        found = await BleakScanner.discover(timeout=1.0, backend=SimScanner, return_adv=True)
        (dev, adv), = found.values()
        assert adv.local_name == "probe" and dev.name == "probe"
        assert -100 < adv.rssi < -30
        assert gatt.SERVICE_UUID in adv.service_uuids
        only_other = await BleakScanner.discover(timeout=0.5, backend=SimScanner, service_uuids=["0000180f-0000-1000-8000-00805f9b34fb"])
        assert only_other == []

    asyncio.run(main())


@pytest.mark.parametrize("mtu", [247, 23])
def test_mtu_exchange_and_notifications_cut_to_mtu_minus_3(probe_world, mtu):
    probe_world()

    async def main():
        async with BleakClient(await _find(), backend=SimClient, mtu=mtu) as client:
            assert client.mtu_size == mtu
            p = await Probe(client).start()
            await p.command("stats")
            note = await p.reply("stats")
            full = bytes(await client.read_gatt_char(gatt.REPLY_UUID)).decode()  # reads are not cut to MTU-3
            assert full == "stats conns=1 discs=0 mtu=%d" % mtu
            assert note == full[: mtu - 3]
            await p.command("big:300")
            for _ in range(100):
                if p.data:
                    break
                await asyncio.sleep(0.02)
            assert [len(b) for b in p.data] == [mtu - 3]
            assert p.data[0] == bytes(i & 0xFF for i in range(mtu - 3))
            char = client.services.get_characteristic(gatt.CONTROL_UUID)
            assert char.max_write_without_response_size == mtu - 3
            with pytest.raises(BleakError, match="MTU"):
                await client.write_gatt_char(gatt.CONTROL_UUID, bytes(mtu - 2), response=False)

    asyncio.run(main())


def test_enomem_when_buffers_full_and_credits_return(probe_world):
    probe_world()

    async def main():
        async with BleakClient(await _find(), backend=SimClient) as client:
            p = await Probe(client).start()
            await p.command("flood:60")
            first = int((await p.reply("flood first")).split("=")[1])
            # 12 buffers; a connection event inside the loop can free a few more
            assert 12 <= first < 30
            assert (await p.reply("flood done")) == "flood done sent=60"
            for _ in range(100):
                if len(p.data) == 60:
                    break
                await asyncio.sleep(0.02)
            # back-off lost nothing and kept the order
            assert [struct.unpack("<I", b)[0] for b in p.data] == list(range(60))

    asyncio.run(main())


def test_notify_from_a_preallocated_buffer_allocates_nothing(probe_world):
    probe_world()

    async def main():
        async with BleakClient(await _find(), backend=SimClient) as client:
            p = await Probe(client).start()
            await p.command("alloc")
            assert await p.reply("alloc", timeout=10.0) == "alloc bytes=0"

    asyncio.run(main())


def test_write_truncated_to_buffer_and_reads(probe_world):
    probe_world()

    async def main():
        async with BleakClient(await _find(), backend=SimClient) as client:
            p = await Probe(client).start()
            await client.write_gatt_char(SMALL_UUID, bytes(50), response=True)
            assert await p.reply("small") == "small len=20"  # MicroPython's default 20-byte buffer
            await client.write_gatt_char(SMALL_UUID, bytes(7), response=True)
            assert await p.reply("small") == "small len=7"
            assert bytes(await client.read_gatt_char(gatt.REPLY_UUID)) == b"small len=7"
            with pytest.raises(BleakError, match="denied"):
                await client.read_gatt_char(DENY_UUID)
            with pytest.raises(BleakError, match="not a writable"):
                await client.write_gatt_char(DENY_UUID, b"x", response=True)

    asyncio.run(main())


def test_forced_link_loss_reaches_both_sides_then_reconnects(probe_world):
    w = probe_world(radio={"seed": 5, "disconnects": [{"node": 1, "at_s": 4.0, "down_s": 1.0}], "supervision_timeout_ms": 300})

    async def main():
        lost = asyncio.Event()
        dev = await _find()
        client = BleakClient(dev, backend=SimClient, disconnected_callback=lambda c: lost.set())
        await client.connect()
        assert w.world["seconds"] > 4.0
        await asyncio.wait_for(lost.wait(), 10.0)
        assert not client.is_connected
        with pytest.raises(BleakError):
            await client.write_gatt_char(gatt.CONTROL_UUID, b"stats", response=True)
        await client.connect()  # waits until the outage is over and the node advertises again
        p = await Probe(client).start()
        await p.command("stats")
        assert await p.reply("stats") == "stats conns=2 discs=1 mtu=247"
        await client.disconnect()
        assert not lost.is_set() or client.is_connected is False

    asyncio.run(main())
    faults = [f for f in w.faults() if f["kind"] == "disconnect"]
    assert len(faults) == 1 and faults[0]["node"] == 1 and faults[0]["connected"] is True
    assert faults[0]["down_until_s"] == 5.0


def test_connect_times_out_when_node_absent(probe_world):
    probe_world()

    async def main():
        client = BleakClient("C0:4D:59:53:00:63", backend=SimClient, timeout=0.5)
        with pytest.raises(TimeoutError):
            await client.connect()

    asyncio.run(main())


def test_world_stop_leaves_no_process(probe_world):
    w = probe_world()
    air, nodes = w.running()
    assert air and all(nodes)
    pids = [w.air.pid] + [p.pid for p in w.nodes]
    w.stop()
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid), "process %d still exists after stop()" % pid


def _alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_killed_parent_leaves_no_orphans(tmp_path):
    """SIGKILL the process that owns a World: the air and the nodes must go too (PR_SET_PDEATHSIG)."""
    import signal
    import subprocess
    import sys
    import time

    d, wj, njs = make_world(2, base=tmp_path / "w")
    script = (
        "import sys, time\n"
        "from myosim.world import World\n"
        "w = World(%r, %r, {}, firmware_dir=%r, script='upy_probe.py').start()\n"
        "print(w.air.pid, *[p.pid for p in w.nodes], flush=True)\n"
        "time.sleep(60)\n" % ([str(p) for p in njs], str(wj), str(HERE))
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in owner.stdout.readline().split()]
        assert len(pids) == 3 and all(_alive(p) for p in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if _alive(p)], "orphans left after the owner was killed"
    finally:
        owner.kill()
        cleanup(d)


def test_writes_wait_for_the_next_connection_event_and_replies_for_the_one_after(probe_world):
    """The asymmetry time sync has to live with: host->node delay spreads over one
    connection interval; node->host takes at least the stack latency and arrives on the event grid."""
    interval_ms = 40.0
    probe_world(radio={"seed": 2, "per_node": {"1": {"interval_ms": [interval_ms, interval_ms]}}, "latency_ms": 0.6, "jitter_ms": 0.2}, speed=1.0)
    from myosim.backend import host_clock_us

    async def main():
        async with BleakClient(await _find(), backend=SimClient) as client:
            assert client._backend.interval_ms == pytest.approx(interval_ms)
            await Probe(client).start()
            arrivals = asyncio.Queue()
            await client.start_notify(gatt.REPLY_UUID, lambda ch, b: arrivals.put_nowait((host_clock_us(), bytes(b))))
            fwd, back = [], []
            for i in range(25):
                t1 = host_clock_us()
                await client.write_gatt_char(gatt.CONTROL_UUID, b"now", response=False)
                t4, msg = await asyncio.wait_for(arrivals.get(), 5.0)
                _, rx, tx = msg.decode().split()
                fwd.append((int(rx) - t1) / 1000.0)
                back.append((t4 - int(tx)) / 1000.0)
                await asyncio.sleep(0.013 * (i % 3))  # vary the phase against the event grid
            return fwd, back

    fwd, back = asyncio.run(main())
    slack_ms = 15.0  # scheduling on a loaded 2-core machine
    assert min(fwd) >= 0.0, fwd  # never before it was sent
    assert max(fwd) <= interval_ms + slack_ms, fwd
    assert max(fwd) - min(fwd) > interval_ms / 3, fwd  # spread over the interval, not a constant
    assert min(back) >= 0.6 - 0.3, back  # at least the stack latency (minus timer rounding)
    # the reply waits for the next event: typically most of an interval
    assert sorted(back)[len(back) // 2] > interval_ms / 2, back
    assert max(back) <= 2 * interval_ms + slack_ms, back


def test_host_gone_mid_write_logs_the_flushed_operation(probe_world):
    """A write waits for the next connection event (1 s apart here); if the host vanishes
    first, the write never reaches the node and the faults log says so."""
    w = probe_world(radio={"seed": 1, "per_node": {"1": {"interval_ms": [1000, 1000]}}}, speed=4.0)

    async def main():
        client = BleakClient(await _find(), backend=SimClient)
        await client.connect()
        await client.write_gatt_char(gatt.CONTROL_UUID, b"stats", response=False)
        client._backend._transport.abort()  # the host process dies with the write still queued
        await asyncio.sleep(0.2)

    asyncio.run(main())
    flushed = [f for f in w.faults() if f["kind"] == "host_op_flushed"]
    assert [(f["op"], f["char"], f["node"]) for f in flushed] == [("write", "control", 1)]
