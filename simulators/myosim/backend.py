"""bleak backend for the virtual air: the host's public bleak API, unchanged, reaches simulated nodes.

    from myosim.backend import SimScanner, SimClient, host_clock_us
    devices = await BleakScanner.discover(timeout=2.0, backend=SimScanner)
    async with BleakClient(devices[0], backend=SimClient) as client:
        await client.start_notify(DATA_UUID, on_data)
        await client.write_gatt_char(CONTROL_UUID, frame, response=False)

Which world: env MYOSTRIDE_SIM_WORLD (path of world.json), else
$XDG_RUNTIME_DIR/myostride-sim/world.json, else /tmp/myostride-sim-<uid>/world.json
(default_world_path()). The world is read when a scanner/client starts, so
a world started later is found.

host_clock_us(): global simulation time in microseconds (the host's clock in
simulation, docs/ARCHITECTURE.md); real BLE uses time.monotonic_ns() // 1000.
"""

import asyncio
import json
import os
import struct
import time
from pathlib import Path

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from myosim import airwire as W

_PROP_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
)
_AD_NAME_SHORT = 0x08
_AD_NAME = 0x09
_AD_UUID16 = (0x02, 0x03)
_AD_UUID128 = (0x06, 0x07)
_AD_TX_POWER = 0x0A
_AD_SERVICE_DATA16 = 0x16
_AD_MANUFACTURER = 0xFF
# A GATT operation the air never answers (the link died under it) fails after this long, as a
# real stack's ATT transaction timeout would end it (theirs is 30 s; the air answers in ms).
GATT_TIMEOUT_S = 3.0


def default_world_path():
    """Where `myostride sim` publishes its world when no path is given."""
    env = os.environ.get("MYOSTRIDE_SIM_WORLD")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "myostride-sim" / "world.json"
    return Path("/tmp/myostride-sim-%d" % os.getuid()) / "world.json"


def load_world(path=None):
    p = Path(path) if path else default_world_path()
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise BleakError(
            "no simulated world at %s: start one with `myostride sim` or set MYOSTRIDE_SIM_WORLD to its world.json" % p
        ) from None


_world_cache = {}  # path -> (mtime_ns, world): a new `myostride sim` run rewrites world.json


def host_clock_us(world=None):
    """Global simulation time in microseconds (int), same formula as the air and the nodes.

    world: a world dict or a world.json path; default: default_world_path()."""
    w = world
    if not isinstance(w, dict):
        p = str(w) if w is not None else str(default_world_path())
        try:
            mtime = os.stat(p).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        hit = _world_cache.get(p)
        if hit is None or hit[0] != mtime:
            hit = _world_cache[p] = (mtime, load_world(p))
        w = hit[1]
    return int((time.time_ns() - int(w["epoch_ns"])) * float(w["speed"]) // 1000)


def uuid_str(b_le):
    """Advertised little-endian UUID bytes -> bleak's normalised lower-case string."""
    b = bytes(reversed(b_le))
    if len(b) == 2:
        return "0000%02x%02x-0000-1000-8000-00805f9b34fb" % (b[0], b[1])
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def parse_ad(raw):
    """AD structures -> (local_name, manufacturer_data, service_data, service_uuids, tx_power)."""
    name = None
    man = {}
    sdata = {}
    uuids = []
    tx = None
    i = 0
    while i < len(raw):
        ln = raw[i]
        if ln == 0 or i + 1 + ln > len(raw):
            break
        t = raw[i + 1]
        v = bytes(raw[i + 2 : i + 1 + ln])
        if t in (_AD_NAME, _AD_NAME_SHORT):
            name = v.decode(errors="replace")
        elif t == _AD_MANUFACTURER and len(v) >= 2:
            man[v[0] | v[1] << 8] = v[2:]
        elif t in _AD_UUID16:
            uuids += [uuid_str(v[j : j + 2]) for j in range(0, len(v) - 1, 2)]
        elif t in _AD_UUID128:
            uuids += [uuid_str(v[j : j + 16]) for j in range(0, len(v) - 15, 16)]
        elif t == _AD_SERVICE_DATA16 and len(v) >= 2:
            sdata[uuid_str(v[:2])] = v[2:]
        elif t == _AD_TX_POWER and len(v) == 1:
            tx = struct.unpack("b", v)[0]
        i += 1 + ln
    return name, man, sdata, uuids, tx


class _AirProtocol(asyncio.Protocol):
    def __init__(self, on_message, on_lost):
        self.framer = W.Framer()
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        for mtype, body in self.framer.feed(data):
            self.on_message(mtype, body)

    def connection_lost(self, exc):
        self.on_lost()


async def _open_air(world_path, on_message, on_lost):
    world = load_world(world_path)
    loop = asyncio.get_running_loop()
    try:
        transport, proto = await loop.create_unix_connection(lambda: _AirProtocol(on_message, on_lost), world["host_socket"])
    except (FileNotFoundError, ConnectionRefusedError):
        raise BleakError("the simulated world's air is not running (no socket at %s); start `myostride sim`" % world["host_socket"]) from None
    return world, transport


class SimScanner(BaseBleakScanner):
    """Scanner that sees the advertisements of simulated nodes (with RSSI)."""

    def __init__(self, detection_callback=None, service_uuids=None, scanning_mode="active", *, bluez=None, cb=None, world=None, **kwargs):
        super().__init__(detection_callback, service_uuids)
        self._world_path = world
        self._transport = None

    async def start(self):
        self.seen_devices = {}
        _world, self._transport = await _open_air(self._world_path, self._on_message, lambda: None)
        self._transport.write(W.pack(W.H_SCAN, b"\x01"))

    async def stop(self):
        if self._transport is not None:
            self._transport.write(W.pack(W.H_SCAN, b"\x00"))
            self._transport.close()
            self._transport = None

    def _on_message(self, mtype, body):
        if mtype != W.R_ADV:
            return
        addr, rssi, _conn = struct.unpack_from("<6sbB", body, 0)
        la = body[8]
        adv = body[9 : 9 + la]
        lr = body[9 + la]
        resp = body[10 + la : 10 + la + lr]
        name, man, sdata, uuids, tx = parse_ad(adv + resp)
        if not self.is_allowed_uuid(uuids):
            return
        address = W.addr_text(addr)
        ad = AdvertisementData(
            local_name=name,
            manufacturer_data=man,
            service_data=sdata,
            service_uuids=uuids,
            tx_power=tx,
            rssi=rssi,
            platform_data=(address, bytes(adv), bytes(resp)),
        )
        device = self.create_or_update_device(address, address, name, {"address": address}, ad)
        self.call_detection_callbacks(device, ad)


class SimClient(BaseBleakClient):
    """One central link to a simulated node over the virtual air."""

    def __init__(self, address_or_ble_device, *, disconnected_callback=None, timeout=10.0, world=None, **kwargs):
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        self._world_path = world
        self._transport = None
        self._connected = False
        self._closing = False
        self._mtu = 23
        self._req = 0
        self._pending = {}
        self._notify = {}
        self._requested_mtu = kwargs.get("mtu")  # None: the air's central_mtu setting (247)
        self.interval_ms = None  # connection interval the air chose (simulation detail)

    # --------------------------------------------------------- properties

    @property
    def name(self):
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self):
        return self._mtu

    @property
    def is_connected(self):
        return self._connected

    # --------------------------------------------------------- air messages

    def _on_message(self, mtype, body):
        if mtype == W.R_NOTIFY:
            (handle,) = struct.unpack_from("<H", body, 0)
            cb = self._notify.get(handle)
            if cb is not None:
                cb(bytearray(body[2:]))
        elif mtype == W.R_RESULT:
            req, status = struct.unpack_from("<IB", body, 0)
            fut = self._pending.pop(req, None)
            if fut is not None and not fut.done():
                fut.set_result((status, body[5:]))
        elif mtype == W.R_DISCONNECTED:
            self._link_down("the node disconnected (reason 0x%02x)" % body[0])

    def _on_lost(self):
        self._link_down("the simulated world's air stopped")

    def _link_down(self, why):
        was = self._connected
        self._connected = False
        self._notify.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BleakError("not connected: %s" % why))
        self._pending.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if was and not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _request(self, mtype, fmt, *args, body=b"", timeout=None):
        """Send one request to the air and await its result, at most `timeout` (TimeoutError)."""
        if self._transport is None:
            raise BleakError("not connected to %s" % self.address)
        self._req = (self._req + 1) & 0xFFFFFFFF
        req = self._req
        fut = asyncio.get_running_loop().create_future()
        self._pending[req] = fut
        self._transport.write(W.pack(mtype, struct.pack(fmt, req, *args) + bytes(body)))
        try:
            async with asyncio.timeout(timeout or self._timeout):
                return await fut
        finally:
            self._pending.pop(req, None)

    async def _gatt(self, mtype, fmt, *args, body=b"", what=""):
        """A GATT operation on the link: fails at once when the link is down, and within
        GATT_TIMEOUT_S when the air never answers (a link lost mid-operation)."""
        if not self._connected:
            raise BleakError("%s: not connected to %s" % (what, self.address))
        try:
            status, rbody = await self._request(mtype, fmt, *args, body=body, timeout=min(self._timeout, GATT_TIMEOUT_S))
        except TimeoutError:
            raise BleakError("%s: no answer from %s within %.1f s (link lost?)" % (what, self.address, min(self._timeout, GATT_TIMEOUT_S))) from None
        self._check(status, rbody, what)
        return rbody

    # --------------------------------------------------------- connection

    async def connect(self, pair=False, **kwargs):
        if self._connected:
            return
        timeout = kwargs.get("timeout", self._timeout)
        self._closing = False
        _world, self._transport = await _open_air(self._world_path, self._on_message, self._on_lost)
        req = {"address": self.address}
        if self._requested_mtu is not None:
            req["mtu"] = int(self._requested_mtu)
        req_body = json.dumps(req).encode()
        try:
            status, body = await self._request(W.H_CONNECT, "<I", body=req_body, timeout=timeout)
            if status:
                raise BleakError("connect to %s failed: %s" % (self.address, bytes(body).decode(errors="replace")))
            info = json.loads(body)
        except BaseException as exc:
            # nothing half-open stays behind (also when the caller cancels the connect)
            if self._transport is not None:
                self._transport.close()
                self._transport = None
            if isinstance(exc, TimeoutError):
                raise TimeoutError("could not connect to %s within %.1f s (not advertising or out of range)" % (self.address, timeout)) from None
            raise
        self._mtu = info["mtu"]
        self.interval_ms = info["interval_ms"]
        self._name = info.get("name") or self._name
        self.services = self._build_services(info["services"])
        self._connected = True

    def _build_services(self, table):
        coll = BleakGATTServiceCollection()
        for s in table:
            svc = BleakGATTService(s, s["handle"], s["uuid"])
            coll.add_service(svc)
            for c in s["chars"]:
                props = [n for bit, n in _PROP_NAMES if c["props"] & bit]
                ch = BleakGATTCharacteristic(c, c["handle"], c["uuid"], props, lambda: self._mtu - 3, svc)
                coll.add_characteristic(ch)
                for d in c["descs"]:
                    coll.add_descriptor(BleakGATTDescriptor(d, d["handle"], d["uuid"], ch))
        return coll

    async def disconnect(self):
        if self._transport is None:
            self._connected = False
            return
        self._closing = True
        try:
            await self._request(W.H_DISCONNECT, "<I", timeout=min(self._timeout, GATT_TIMEOUT_S))
        except (BleakError, TimeoutError):
            pass
        finally:  # also when cancelled: closing the socket ends the link in the air
            self._connected = False
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    async def pair(self, *args, **kwargs):
        raise NotImplementedError("the simulated nodes do not use pairing")

    async def unpair(self):
        raise NotImplementedError("the simulated nodes do not use pairing")

    # --------------------------------------------------------- GATT

    def _check(self, status, body, what):
        if status:
            raise BleakError("%s failed: %s" % (what, bytes(body).decode(errors="replace")))

    async def read_gatt_char(self, characteristic, *, use_cached=False, **kwargs):
        return bytearray(await self._gatt(W.H_READ, "<IH", characteristic.handle, what="read of %s" % characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor, *, use_cached=False, **kwargs):
        raise BleakError("descriptor reads are not simulated (handle %d)" % descriptor.handle)

    async def write_gatt_char(self, characteristic, data, response):
        await self._gatt(W.H_WRITE, "<IHB", characteristic.handle, 1 if response else 0, body=bytes(data),
                         what="write to %s" % characteristic.uuid)

    async def write_gatt_descriptor(self, descriptor, data):
        raise BleakError("descriptor writes are not simulated; use start_notify/stop_notify for the CCCD")

    async def start_notify(self, characteristic, callback, **kwargs):
        self._notify[characteristic.handle] = callback
        try:
            await self._gatt(W.H_SUBSCRIBE, "<IHB", characteristic.handle, 1, what="subscribe to %s" % characteristic.uuid)
        except BaseException:
            self._notify.pop(characteristic.handle, None)
            raise

    async def stop_notify(self, characteristic):
        try:
            await self._gatt(W.H_SUBSCRIBE, "<IHB", characteristic.handle, 0, what="unsubscribe from %s" % characteristic.uuid)
        finally:
            self._notify.pop(characteristic.handle, None)
