"""bleak backend over Bumble: the recorder's public bleak API on a host stack we run ourselves.

Why: with Bumble the host side is a real Bluetooth host stack (HCI, L2CAP, ATT,
GATT client) that needs no operating-system Bluetooth service. It drives a USB
dongle directly (`usb:0`, `serial:/dev/ttyACM0`) or the central controller of the
real-stack world (`unix:<world>/hci0.sock`), so the same recorder code runs
against NimBLE nodes in CI and against a real adapter in a lab.

    BleakScanner(cb, backend=BumbleScanner, hci=["usb:0"])
    BleakClient(device, backend=BumbleClient, hci=["usb:0", "usb:1"])

Several dongles: `hci` is a list of Bumble transport specs. The scanner listens
on all of them; each new connection goes to the transport with the fewest open
links (many adapters hold fewer than twelve connections), so twelve nodes spread
over e.g. two dongles six and six. One Bumble Device per transport is shared by
every scanner and client of the process (one HCI owner per adapter); it is opened
on first use and closed when the last scanner or client using it lets go.

The central asks for ATT MTU 247 itself right after connecting: NimBLE (and most
peripheral stacks) never start the exchange.
"""

import asyncio

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

CENTRAL_MTU = 247
_OPEN_TIMEOUT_S = 10.0
_CLOSE_TIMEOUT_S = 3.0
_GATT_TIMEOUT_S = 10.0
_PROP_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
)


def normalise_hci(hci):
    """`hci` as given (one spec, or a list) -> non-empty list of transport specs."""
    if hci is None:
        raise BleakError("the bumble backend needs an HCI transport: --hci usb:0 (a USB dongle) or --world W/world.json")
    specs = [hci] if isinstance(hci, str) else list(hci)
    specs = [s.strip() for s in specs if s and s.strip()]
    if not specs:
        raise BleakError("the bumble backend needs at least one HCI transport, e.g. --hci usb:0")
    return specs


class _Host:
    """One Bumble Device on one HCI transport, shared within an event loop (reference counted)."""

    def __init__(self, spec):
        self.spec = spec
        self.users = 0
        self.transport = None
        self.device = None
        self.opening = None
        self.connect_lock = asyncio.Lock()  # Bumble allows one pending LE connection per device
        self.scanners = set()
        self.links = 0

    async def open(self):
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.transport import open_transport

        try:
            async with asyncio.timeout(_OPEN_TIMEOUT_S):
                self.transport = await open_transport(self.spec)
                # A fresh static random address per host: several centrals on one link must differ.
                dev = Device.with_hci("myostride", Address.generate_static_address(), self.transport.source, self.transport.sink)
                dev.on("advertisement", self._on_adv)
                await dev.power_on()
        except TimeoutError:
            await self._close_transport()
            raise BleakError("HCI transport %s did not answer within %.0f s" % (self.spec, _OPEN_TIMEOUT_S)) from None
        except BleakError:
            raise
        except Exception as e:  # bumble raises OSError, TransportSpecError, USB errors ...
            await self._close_transport()
            raise BleakError("cannot open HCI transport %s: %s" % (self.spec, e)) from None
        self.device = dev

    def _on_adv(self, adv):
        for s in list(self.scanners):
            s._on_adv(self.spec, adv)

    async def _close_transport(self):
        t, self.transport = self.transport, None
        if t is not None:
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    await t.close()
            except Exception:  # a transport that is already gone
                pass

    async def close(self):
        opening, self.opening = self.opening, None
        if opening is not None and not opening.done():  # its last user gave up while it opened
            opening.cancel()
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    await opening
            except BaseException:  # cancelled, timed out or failed: nothing more to wait for
                pass
        dev, self.device = self.device, None
        if dev is not None:
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    await dev.power_off()
            except Exception:
                pass
        await self._close_transport()


_HOSTS = {}  # (id(loop), spec) -> _Host


async def acquire_host(spec):
    loop = asyncio.get_running_loop()
    key = (id(loop), spec)
    h = _HOSTS.get(key)
    if h is None:
        h = _HOSTS[key] = _Host(spec)
    h.users += 1
    try:
        if h.device is None:
            if h.opening is None:
                h.opening = asyncio.ensure_future(h.open())
            opening = h.opening
            try:
                await asyncio.shield(opening)
            finally:
                if opening.done() and h.opening is opening:
                    h.opening = None
    except BaseException:
        await release_host(h)
        raise
    return h


async def release_host(h):
    h.users -= 1
    if h.users <= 0:
        for key, v in list(_HOSTS.items()):
            if v is h:
                del _HOSTS[key]
        await h.close()


def _uuid_str(u):
    """Bumble UUID -> bleak's normalised lower-case 128-bit string."""
    s = u.to_hex_str("-") if hasattr(u, "to_hex_str") else str(u)
    s = s.lower()
    if len(s) == 4:
        return "0000%s-0000-1000-8000-00805f9b34fb" % s
    return s


class BumbleScanner(BaseBleakScanner):
    """Advertisements seen by every given HCI transport (active scanning)."""

    def __init__(self, detection_callback=None, service_uuids=None, scanning_mode="active", *, bluez=None, cb=None, hci=None, **kwargs):
        super().__init__(detection_callback, service_uuids)
        self._specs = normalise_hci(hci)
        self._active = scanning_mode != "passive"
        self._hosts = []

    async def start(self):
        self.seen_devices = {}
        try:
            for spec in self._specs:
                h = await acquire_host(spec)
                self._hosts.append(h)
                h.scanners.add(self)
                await h.device.start_scanning(active=self._active, filter_duplicates=False)
        except BaseException:
            await self.stop()
            raise

    async def stop(self):
        hosts, self._hosts = self._hosts, []
        for h in hosts:
            h.scanners.discard(self)
            if not h.scanners and h.device is not None:
                try:
                    async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                        await h.device.stop_scanning()
                except Exception:
                    pass
            await release_host(h)

    def _on_adv(self, spec, adv):
        from bumble.core import AdvertisingData

        data = adv.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
        man = {}
        for company, payload in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA):
            man[company] = bytes(payload)
        uuids = []
        for t in (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                  AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
            for lst in data.get_all(t):
                uuids += [_uuid_str(u) for u in lst]
        sdata = {}
        for u, payload in data.get_all(AdvertisingData.SERVICE_DATA_16_BIT_UUID):
            sdata[_uuid_str(u)] = bytes(payload)
        if not self.is_allowed_uuid(uuids):
            return
        tx = data.get(AdvertisingData.TX_POWER_LEVEL)
        address = str(adv.address).split("/")[0]
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        ad = AdvertisementData(local_name=name, manufacturer_data=man, service_data=sdata, service_uuids=uuids,
                               tx_power=tx, rssi=adv.rssi, platform_data=(spec, adv))
        details = {"address": adv.address, "hci": spec}
        device = self.create_or_update_device(address, address, name, details, ad)
        self.call_detection_callbacks(device, ad)


class BumbleClient(BaseBleakClient):
    """One central link through a Bumble host stack; ATT MTU 247 requested by the central."""

    def __init__(self, address_or_ble_device, *, disconnected_callback=None, timeout=10.0, hci=None, mtu=CENTRAL_MTU, **kwargs):
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._specs = normalise_hci(hci)
        self._ble_device = address_or_ble_device if isinstance(address_or_ble_device, BLEDevice) else None
        self._name = self._ble_device.name if self._ble_device else None
        self._want_mtu = int(mtu)
        self._host = None  # the shared _Host this client holds a reference to
        self._link_up = False  # counted in that host's links
        self._conn = None
        self._peer = None
        self._chars = {}  # handle -> bumble CharacteristicProxy
        self._subs = {}  # handle -> subscriber function
        self._closing = False
        self.disconnect_reason = None

    @property
    def name(self):
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self):
        return self._conn.att_mtu if self._conn is not None else 23

    @property
    def is_connected(self):
        return self._conn is not None

    def _pick_spec(self):
        """The transport with the fewest open links (ties: the first given)."""
        def load(spec):
            for (lid, s), h in _HOSTS.items():
                if s == spec and lid == id(asyncio.get_running_loop()):
                    return h.links
            return 0
        return min(self._specs, key=load)

    async def connect(self, pair=False, **kwargs):
        from bumble.device import Peer
        from bumble.hci import Address

        if self._conn is not None:
            return
        timeout = kwargs.get("timeout", self._timeout)
        self._closing = False
        await self._release()  # the host held over from a link that dropped
        host = await acquire_host(self._pick_spec())
        try:
            details = self._ble_device.details if self._ble_device is not None else None
            addr = details["address"] if isinstance(details, dict) and "address" in details else Address(self.address, Address.RANDOM_DEVICE_ADDRESS)
            async with host.connect_lock:
                try:
                    async with asyncio.timeout(timeout):
                        conn = await host.device.connect(addr, timeout=None)
                except TimeoutError:
                    try:
                        await host.device.cancel_connection()
                    except Exception:
                        pass
                    raise TimeoutError("could not connect to %s within %.1f s (not advertising or out of range)" % (self.address, timeout)) from None
            host.links += 1
            self._host, self._conn, self._link_up = host, conn, True
            conn.on("disconnection", self._on_disconnection)
            async with asyncio.timeout(_GATT_TIMEOUT_S):
                peer = Peer(conn)
                await peer.request_mtu(self._want_mtu)
                await peer.discover_services()
                for svc in peer.services:
                    await svc.discover_characteristics()
                    for ch in svc.characteristics:
                        await ch.discover_descriptors()
            self._peer = peer
            self.services = self._build_services(peer)
        except BaseException as e:
            if self._host is host:
                await self._drop_link()
                await self._release()
            else:
                await release_host(host)
            if isinstance(e, (TimeoutError, BleakError, asyncio.CancelledError)):
                raise
            if isinstance(e, Exception):
                raise BleakError("connect to %s failed: %s" % (self.address, e)) from None
            raise

    def _build_services(self, peer):
        coll = BleakGATTServiceCollection()
        self._chars = {}
        for svc in peer.services:
            bs = BleakGATTService(svc, svc.handle, _uuid_str(svc.uuid))
            coll.add_service(bs)
            for ch in svc.characteristics:
                props = [n for bit, n in _PROP_NAMES if int(ch.properties) & bit]
                bc = BleakGATTCharacteristic(ch, ch.handle, _uuid_str(ch.uuid), props, lambda: self.mtu_size - 3, bs)
                coll.add_characteristic(bc)
                self._chars[ch.handle] = ch
                for d in ch.descriptors:
                    coll.add_descriptor(BleakGATTDescriptor(d, d.handle, _uuid_str(d.type), bc))
        return coll

    def _on_disconnection(self, reason):
        """The link is gone. The shared host stays held (no task is started from this
        callback): disconnect() or the next connect() lets go of it, awaited by its owner."""
        self.disconnect_reason = reason
        was = self._conn is not None
        self._conn = None
        self._subs.clear()
        if self._host is not None and self._link_up:
            self._host.links -= 1
            self._link_up = False
        if was and not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _drop_link(self):
        conn = self._conn
        if conn is None:
            return
        self._closing = True
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await conn.disconnect()
        except Exception:  # already gone, or the transport closed
            pass
        if self._conn is conn:  # no disconnection event came: let go ourselves
            self._on_disconnection(None)

    async def _release(self):
        host, self._host = self._host, None
        if host is not None:
            await release_host(host)

    async def disconnect(self):
        await self._drop_link()
        await self._release()

    async def pair(self, *args, **kwargs):
        raise NotImplementedError("myostride nodes do not use pairing")

    async def unpair(self):
        raise NotImplementedError("myostride nodes do not use pairing")

    def _proxy(self, characteristic):
        if self._conn is None:
            raise BleakError("not connected to %s" % self.address)
        p = self._chars.get(characteristic.handle)
        if p is None:
            raise BleakError("characteristic handle %d not found" % characteristic.handle)
        return p

    async def _att(self, what, coro):
        from bumble.att import ATT_Error

        try:
            async with asyncio.timeout(_GATT_TIMEOUT_S):
                return await coro
        except ATT_Error as e:
            raise BleakError("%s failed: ATT error 0x%02x" % (what, e.error_code)) from None
        except TimeoutError:
            raise BleakError("%s: no answer within %.0f s" % (what, _GATT_TIMEOUT_S)) from None

    async def read_gatt_char(self, characteristic, *, use_cached=False, **kwargs):
        p = self._proxy(characteristic)
        return bytearray(await self._att("read of %s" % characteristic.uuid, p.read_value()))

    async def read_gatt_descriptor(self, descriptor, *, use_cached=False, **kwargs):
        if self._conn is None:
            raise BleakError("not connected to %s" % self.address)
        return bytearray(await self._att("read of descriptor %d" % descriptor.handle, self._peer.read_value(descriptor.handle)))

    async def write_gatt_char(self, characteristic, data, response):
        p = self._proxy(characteristic)
        await self._att("write to %s" % characteristic.uuid, p.write_value(bytes(data), with_response=bool(response)))

    async def write_gatt_descriptor(self, descriptor, data):
        if self._conn is None:
            raise BleakError("not connected to %s" % self.address)
        await self._att("write of descriptor %d" % descriptor.handle, self._peer.write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(self, characteristic, callback, **kwargs):
        p = self._proxy(characteristic)

        def on_value(value):
            callback(bytearray(value))

        self._subs[characteristic.handle] = on_value
        await self._att("subscribe to %s" % characteristic.uuid, p.subscribe(on_value, prefer_notify=True))

    async def stop_notify(self, characteristic):
        p = self._proxy(characteristic)
        sub = self._subs.pop(characteristic.handle, None)
        await self._att("unsubscribe from %s" % characteristic.uuid, p.unsubscribe(sub))


def host_clock_us():
    """The recorder's clock with Bumble: the host's monotonic clock, as with any real radio."""
    import time

    return time.monotonic_ns() // 1000


__all__ = ["BumbleScanner", "BumbleClient", "normalise_hci", "host_clock_us", "CENTRAL_MTU"]


def resolve_hci(hci=None, world=None):
    """The transports to use: `hci` (one spec or a list) if given, else the real-stack
    world's central controller(s) from world.json ("hci"), else a UserError naming both."""
    import json
    from pathlib import Path

    from ..errors import UserError

    if hci:
        try:
            return normalise_hci(hci)
        except BleakError as e:
            raise UserError(str(e)) from None
    if world:
        try:
            w = json.loads(Path(world).read_text())
        except (OSError, ValueError) as e:
            raise UserError("cannot read the world file %s (%s): start `myostride demo --radio nimble` or give --hci" % (world, e)) from None
        if w.get("hci"):
            return list(w["hci"])
        raise UserError("%s is not a real-stack world (no \"hci\"); give --hci TRANSPORT (e.g. usb:0)" % world)
    raise UserError("--backend bumble needs --hci TRANSPORT (e.g. usb:0, or several --hci for several dongles)")


def describe(specs, world=None):
    """What recorded the session (goes into session.json and the report)."""
    import json
    from pathlib import Path

    try:
        from bumble import __version__ as bumble_version
    except ImportError:  # older bumble without __version__
        bumble_version = None
    d = {"name": "bumble", "host_stack": "bumble", "bumble_version": bumble_version, "hci": list(specs),
         "simulated": False, "node_stack": None,
         "stack": "Bumble %s host stack on %s" % (bumble_version or "?", ", ".join(specs))}
    if world:
        try:
            w = json.loads(Path(world).read_text())
        except (OSError, ValueError):
            w = {}
        if w.get("stack"):
            d["node_stack"] = w["stack"]  # e.g. "nimble": MicroPython's NimBLE in the real-stack world
            d["simulated"] = True
            d["link"] = "bumble LocalLink (virtual controllers, no air time)"
            d["stack"] += ("; nodes on MicroPython's %s bluetooth (real-stack world: simulated patient, "
                           "virtual controllers, no air time)" % ("NimBLE" if w["stack"] == "nimble" else w["stack"]))
    return d


def make_backend(world=None, hci=None):
    """The `bumble` case of acquire.backends.resolve_backend (the Backend object)."""
    from .backends import Backend

    class BumbleBackend(Backend):
        """A Bumble host stack on one or more HCI transports: USB/serial dongles, or the
        central controller(s) of a real-stack world (world.json "hci")."""

        name = "bumble"
        host_clock_name = "monotonic"
        scanner_backend = BumbleScanner
        client_backend = BumbleClient

        def __init__(self):
            self.hci = resolve_hci(hci, world)
            self.world = str(world) if world else None
            self._info = describe(self.hci, self.world)
            self.simulated = bool(self._info["simulated"])

        def device_kwargs(self):
            return {"hci": list(self.hci)}

        def describe(self):
            d = Backend.describe(self)
            d.update(self._info)
            return d

        def scan_failed(self, exc):
            from ..errors import UserError

            return UserError("cannot scan through Bumble on %s (%s): is the dongle plugged in and not held by "
                             "the operating system's Bluetooth service (Linux: `sudo systemctl stop bluetooth` or "
                             "unbind it), or is the real-stack world running?" % (", ".join(self.hci), exc))

    return BumbleBackend()
