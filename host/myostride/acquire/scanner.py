"""Find myostride nodes by their advertising, through bleak's public scanner API.

The same code serves real radios (bleak's default backend) and the simulator
(backend=myosim.backend.SimScanner): only the backend class differs.
"""

import asyncio

from bleak import BleakScanner

from myowire import gatt

from ..errors import UserError


def backend_classes(backend):
    """(scanner_cls or None, client_cls or None, extra kwargs) for a backend name."""
    if backend == "ble":
        return None, None, {}
    if backend == "sim":
        from myosim.backend import SimClient, SimScanner

        return SimScanner, SimClient, {}
    if backend == "bumble":
        from .bumble_backend import BumbleClient, BumbleScanner

        return BumbleScanner, BumbleClient, {}
    raise UserError("unknown backend %r: use ble (real nodes), bumble (a Bumble host on --hci) or sim (the simulator)" % backend)


class FoundNode:
    """A node seen advertising."""

    def __init__(self, node_id, device, name, firmware, battery_pct, rssi, proto_version):
        self.node_id = node_id
        self.device = device
        self.name = name
        self.firmware = firmware
        self.battery_pct = battery_pct
        self.rssi = rssi
        self.proto_version = proto_version

    @property
    def address(self):
        return self.device.address

    def to_json(self):
        return {"node_id": self.node_id, "name": self.name, "address": self.address, "firmware": list(self.firmware),
                "battery_pct": self.battery_pct, "rssi_dbm": self.rssi, "proto_version": self.proto_version}


def parse_node(device, adv):
    """FoundNode from bleak's AdvertisementData, or None if it is not a myostride node."""
    raw = adv.manufacturer_data.get(gatt.COMPANY_ID)
    if raw is None:
        return None
    info = gatt.parse_manufacturer(bytes(raw))
    if info is None:
        return None
    return FoundNode(info["node_id"], device, adv.local_name or device.name, tuple(info["firmware"]), info["battery_pct"], adv.rssi, info["proto_version"])


async def scan(seconds=3.0, backend="ble", want=None, scanner_kwargs=None):
    """Scan for up to `seconds`; returns {node_id: FoundNode} (latest advertisement each).

    want: a set of node ids; the scan ends early once all of them were seen.
    """
    scanner_cls, _client_cls, _kw = backend_classes(backend)
    found = {}
    done = asyncio.Event()

    def on_adv(device, adv):
        node = parse_node(device, adv)
        if node is None:
            return
        found[node.node_id] = node
        if want and want.issubset(found):
            done.set()

    kwargs = dict(scanner_kwargs or {})
    if scanner_cls is not None:
        kwargs["backend"] = scanner_cls
    try:
        async with BleakScanner(on_adv, **kwargs):
            try:
                await asyncio.wait_for(done.wait(), seconds)
            except asyncio.TimeoutError:
                pass
    except UserError:
        raise
    except Exception as exc:  # bleak raises BleakError / OSError for a missing adapter or world
        if backend == "ble":
            raise UserError("cannot scan for Bluetooth nodes (%s): is a Bluetooth adapter present and switched on "
                            "(Linux: the bluetooth service running)? To try without hardware use --backend sim with "
                            "`myostride sim` running" % exc)
        raise UserError("cannot scan the simulator: %s" % exc)
    return found
