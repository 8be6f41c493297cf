"""One node's GATT link: subscribe, reassemble frames, send commands, await replies.

Uses only bleak's public BleakClient API (the backend class is the one
difference between real radios and the simulator). Every notification is
stamped with the host clock the moment it is handed to us; frames go to
the recorder's callbacks, command replies resolve the matching future.
"""

import asyncio
import itertools

from bleak import BleakClient

from myowire import codec, gatt

_cmd_ids = itertools.count(1)


class CommandFailed(Exception):
    """A command was answered with an error status, or not at all."""


class NodeLink:
    def __init__(self, node_id, device, clock_us, on_data, on_reply, on_disconnect, client_cls=None, client_kwargs=None):
        self.node_id = node_id
        self.device = device
        self.clock_us = clock_us
        self.on_data = on_data  # (node_id, recv_us, frame bytes)
        self.on_reply = on_reply  # (node_id, recv_us, frame bytes)
        self.on_disconnect = on_disconnect  # (node_id)
        self.client_cls = client_cls
        self.client_kwargs = dict(client_kwargs or {})
        self.client = None
        self.pending = {}  # cmd id -> future
        self.data_asm = codec.Reassembler()
        self.reply_asm = codec.Reassembler()
        self.mtu = 23
        self.connected = False
        # One command in flight per node: a second write to CONTROL before the node
        # has read the first can overwrite the characteristic value (seen in the
        # simulator, and possible on real stacks without an append buffer).
        self.cmd_lock = asyncio.Lock()
        self.rtts_us = []  # recent command round trips, for reply timeouts

    def reply_timeout_s(self, floor_s=0.25, ceiling_s=2.0):
        """How long to wait for a reply before asking again: 5 x the median round trip.

        A lost reply (radio loss hits REPLY too) must not hold the one-command
        channel for seconds, or pings and resends starve."""
        if len(self.rtts_us) < 3:
            return ceiling_s
        r = sorted(self.rtts_us)[len(self.rtts_us) // 2]
        return min(max(5.0 * r / 1e6, floor_s), ceiling_s)

    async def connect(self, timeout_s=10.0):
        """Connect and subscribe, within timeout_s; on any failure (or cancellation) nothing stays open."""
        kwargs = dict(self.client_kwargs)
        if self.client_cls is not None:
            kwargs["backend"] = self.client_cls
        self.data_asm = codec.Reassembler()
        self.reply_asm = codec.Reassembler()
        client = BleakClient(self.device, disconnected_callback=self._disconnected, timeout=timeout_s, **kwargs)
        try:
            async with asyncio.timeout(timeout_s + 2.0):  # the backend honours timeout_s; this bounds the rest
                await client.connect()
                self.client = client
                self.mtu = client.mtu_size
                await client.start_notify(gatt.REPLY_UUID, self._reply_note)
                await client.start_notify(gatt.DATA_UUID, self._data_note)
        except BaseException:
            self.client = None
            await _quietly_disconnect(client)
            raise
        self.connected = True
        return client

    async def disconnect(self, timeout_s=3.0):
        c = self.client
        self.connected = False
        if c is not None:
            await _quietly_disconnect(c, timeout_s)

    def _disconnected(self, _client):
        was = self.connected
        self.connected = False
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(CommandFailed("node %d disconnected" % self.node_id))
        self.pending.clear()
        if was:
            self.on_disconnect(self.node_id)

    def _data_note(self, _char, data):
        t = self.clock_us()
        frame = self.data_asm.feed(data)
        if frame is not None:
            self.on_data(self.node_id, t, frame)

    def _reply_note(self, _char, data):
        t = self.clock_us()
        frame = self.reply_asm.feed(data)
        if frame is None:
            return
        self.on_reply(self.node_id, t, frame)
        try:
            d = codec.decode_frame(frame)
        except codec.WireError:
            return
        fut = self.pending.pop(d["seq"], None)
        if fut is not None and not fut.done():
            d["recv_us"] = t
            fut.set_result(d)
            sent = getattr(fut, "t1_us", None)
            if sent is not None:
                self.rtts_us.append(t - sent)
                if len(self.rtts_us) > 31:
                    del self.rtts_us[0]

    async def send(self, opcode, args=b"", timeout_s=None, on_sent=None):
        """Send a command; returns (cmd frame, t1_us, reply dict). Raises CommandFailed.

        Commands to one node are serialised (see cmd_lock)."""
        async with self.cmd_lock:
            return await self._send(opcode, args, timeout_s or self.reply_timeout_s(), on_sent)

    async def _send(self, opcode, args, timeout_s, on_sent):
        if not self.connected or self.client is None:
            raise CommandFailed("node %d is not connected" % self.node_id)
        cmd_id = next(_cmd_ids) & 0xFFFFFFFF
        fut = asyncio.get_running_loop().create_future()
        self.pending[cmd_id] = fut
        t1 = self.clock_us()
        fut.t1_us = t1
        frame = codec.encode_command(self.node_id, cmd_id, t1, opcode, args)
        response = len(frame) > self.mtu - 3
        try:
            # Bounded: a write caught by a link loss may never complete on some stacks (and did
            # in the simulator), and one stuck write must not stall the node's command queue.
            async with asyncio.timeout(timeout_s):
                await self.client.write_gatt_char(gatt.CONTROL_UUID, frame, response=response)
        except TimeoutError:
            self.pending.pop(cmd_id, None)
            raise CommandFailed("node %d: writing %s did not complete within %.1f s" % (self.node_id, codec.COMMAND_NAMES.get(opcode), timeout_s))
        except asyncio.CancelledError:
            self.pending.pop(cmd_id, None)
            raise
        except Exception as exc:
            self.pending.pop(cmd_id, None)
            raise CommandFailed("node %d: writing %s failed: %s" % (self.node_id, codec.COMMAND_NAMES.get(opcode), exc))
        if on_sent is not None:
            on_sent(self.node_id, t1, frame)
        try:
            async with asyncio.timeout(timeout_s):
                reply = await fut
        except TimeoutError:
            raise CommandFailed("node %d did not answer %s within %.1f s" % (self.node_id, codec.COMMAND_NAMES.get(opcode), timeout_s))
        finally:
            self.pending.pop(cmd_id, None)
        return frame, t1, reply

    async def read_status(self, timeout_s=3.0):
        """The node's latest status frame from the REPLY characteristic (decoded), or None."""
        try:
            async with asyncio.timeout(timeout_s):
                raw = await self.client.read_gatt_char(gatt.REPLY_UUID)
            return codec.decode_frame(bytes(raw))
        except Exception:  # TimeoutError, BleakError, a garbled frame: no status
            return None


async def _quietly_disconnect(client, timeout_s=3.0):
    """Disconnect a BleakClient, ignoring its errors, within timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.disconnect()
    except Exception:  # TimeoutError, BleakError, OSError: the link is gone either way
        pass
