"""Host side of the streaming tests: connect every node through the public bleak API and collect its frames."""

import asyncio

from bleak import BleakClient, BleakScanner

from myosim.backend import SimClient, SimScanner, host_clock_us
from myowire import codec, gatt


class NodeStream:
    """Frames of one node, reassembled from DATA notifications."""

    def __init__(self, name):
        self.name = name
        self.reasm = codec.Reassembler()
        self.frames = []
        self.replies = []
        self.bad = 0
        self.client = None

    def on_data(self, _char, data):
        f = self.reasm.feed(bytes(data))
        if f is None:
            return
        try:
            self.frames.append(codec.decode_frame(f))
        except codec.WireError:
            self.bad += 1

    def on_reply(self, _char, data):
        try:
            self.replies.append(codec.decode_frame(bytes(data)))
        except codec.WireError:
            self.bad += 1

    def data_seqs(self):
        return [f["seq"] for f in self.frames if f["type"] in ("emg", "imu", "foot", "status")]


async def discover_nodes(n, timeout_s=40.0):
    """Scan until n myostride nodes are seen; returns their BLEDevices sorted by name."""
    found = {}
    done = asyncio.Event()

    def seen(dev, adv):
        if (adv.local_name or "").startswith(gatt.NAME_PREFIX):
            found[dev.address] = dev
            if len(found) >= n:
                done.set()

    async with BleakScanner(seen, backend=SimScanner):
        try:
            await asyncio.wait_for(done.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
    return sorted(found.values(), key=lambda d: d.name)


async def connect_and_start(dev, stream, cmd_id=1):
    client = BleakClient(dev, backend=SimClient, timeout=30.0)
    await client.connect()
    stream.client = client
    await client.start_notify(gatt.REPLY_UUID, stream.on_reply)
    await client.start_notify(gatt.DATA_UUID, stream.on_data)
    cmd = codec.encode_command(codec.BROADCAST, cmd_id, host_clock_us(), codec.C_START)
    await client.write_gatt_char(gatt.CONTROL_UUID, cmd, response=True)
    return client


async def stream_nodes(n, seconds_wall):
    """Connect all n nodes concurrently, start them, collect for seconds_wall, disconnect."""
    devs = await discover_nodes(n)
    assert len(devs) == n, "found %d of %d nodes: %s" % (len(devs), n, [d.name for d in devs])
    streams = [NodeStream(d.name) for d in devs]
    await asyncio.gather(*(connect_and_start(d, s) for d, s in zip(devs, streams)))
    await asyncio.sleep(seconds_wall)
    await asyncio.gather(*(s.client.disconnect() for s in streams))
    return streams
