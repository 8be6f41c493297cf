"""GATT layout and advertising payload of a myostride node (shared by node and host).

One 128-bit service with three characteristics:
  DATA    notify        data frames (EMG, IMU, footswitch, status), fragmented below MTU
  CONTROL write(+nr)    command frames from the host
  REPLY   notify + read time-sync replies, command acks, and (read) the latest status frame
"""

import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


SERVICE_UUID = "4d59f000-0a3e-4c6f-9d21-6d796f737472"
DATA_UUID = "4d59f001-0a3e-4c6f-9d21-6d796f737472"
CONTROL_UUID = "4d59f002-0a3e-4c6f-9d21-6d796f737472"
REPLY_UUID = "4d59f003-0a3e-4c6f-9d21-6d796f737472"

# 0xFFFF is the Bluetooth SIG's company id reserved for testing / internal use.
COMPANY_ID = const(0xFFFF)
MANUFACTURER_MAGIC = const(0x4D)  # 'M': marks a myostride node among other 0xFFFF users
ADV_MAX = const(31)
NAME_PREFIX = "myo-"

_AD_FLAGS = const(0x01)
_AD_NAME = const(0x09)
_AD_UUID128 = const(0x07)
_AD_MANUFACTURER = const(0xFF)


def node_name(node_id):
    return "%s%02d" % (NAME_PREFIX, node_id)


def manufacturer_payload(node_id, fw, battery_pct, proto_version=1):
    """Bytes after the company id: magic, proto version, node id, fw major/minor/patch, battery %."""
    for name, v, top in (("node id", node_id, 255), ("battery_pct", battery_pct, 100), ("proto_version", proto_version, 15)):
        if v < 0 or v > top:
            raise ValueError("%s %d is outside 0-%d" % (name, v, top))
    for v in fw:
        if v < 0 or v > 255:
            raise ValueError("firmware version part %d is outside 0-255" % v)
    return struct.pack("<BBBBBBB", MANUFACTURER_MAGIC, proto_version, node_id, fw[0], fw[1], fw[2], battery_pct)


def advertising_payload(node_id, fw, battery_pct, proto_version=1):
    """Advertising data (<= 31 bytes): flags, complete local name, manufacturer data."""
    name = node_name(node_id).encode()
    man = struct.pack("<H", COMPANY_ID) + manufacturer_payload(node_id, fw, battery_pct, proto_version)
    adv = bytes([2, _AD_FLAGS, 0x06, len(name) + 1, _AD_NAME]) + name + bytes([len(man) + 1, _AD_MANUFACTURER]) + man
    if len(adv) > ADV_MAX:
        raise ValueError("advertising payload is %d bytes, the limit is %d" % (len(adv), ADV_MAX))
    return adv


def scan_response_payload():
    """Scan response: the 128-bit service UUID (18 bytes)."""
    return bytes([17, _AD_UUID128]) + uuid128_le(SERVICE_UUID)


def uuid128_le(text):
    """128-bit UUID string -> 16 bytes little-endian, as advertised."""
    hexs = text.replace("-", "")
    b = bytes(int(hexs[i : i + 2], 16) for i in range(0, 32, 2))
    return bytes(reversed(b))


def parse_manufacturer(data):
    """Manufacturer payload (after company id) -> dict, or None if not a myostride node."""
    if len(data) < 7 or data[0] != MANUFACTURER_MAGIC:
        return None
    return {
        "proto_version": data[1],
        "node_id": data[2],
        "firmware": [data[3], data[4], data[5]],
        "battery_pct": data[6],
    }


def parse_advertising(adv):
    """Split raw AD structures into {ad_type: bytes} (last one wins)."""
    out = {}
    i = 0
    n = len(adv)
    while i < n:
        ln = adv[i]
        if ln == 0 or i + 1 + ln > n:
            break
        out[adv[i + 1]] = bytes(adv[i + 2 : i + 1 + ln])
        i += 1 + ln
    return out
