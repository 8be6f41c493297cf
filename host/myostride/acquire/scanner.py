"""Find myostride nodes by their advertising, through bleak's public scanner API.

The same code serves real radios (bleak's default backend) and the simulator
(myosim.backend.SimScanner): only the Backend object (backends.py) differs.
"""

import asyncio

from bleak import BleakScanner

from myowire import gatt

from ..errors import UserError
from .backends import as_backend


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


async def scan(seconds=3.0, backend=None, want=None):
    """Scan for up to `seconds`; returns {node_id: FoundNode} (latest advertisement each).

    backend: a backends.Backend (a name is resolved; default real BLE).
    want: a set of node ids; the scan ends early once all of them were seen.
    """
    backend = as_backend(backend)
    found = {}
    done = asyncio.Event()

    def on_adv(device, adv):
        node = parse_node(device, adv)
        if node is None:
            return
        found[node.node_id] = node
        if want and want.issubset(found):
            done.set()

    kwargs = dict(backend.device_kwargs())
    if backend.scanner_backend is not None:
        kwargs["backend"] = backend.scanner_backend
    try:
        async with BleakScanner(on_adv, **kwargs):
            try:
                async with asyncio.timeout(seconds):
                    await done.wait()
            except TimeoutError:
                pass
    except UserError:
        raise
    except Exception as exc:  # bleak raises BleakError / OSError for a missing adapter or world
        raise backend.scan_failed(exc) from None
    return found
