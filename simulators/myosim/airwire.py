"""Message format on the virtual air's unix sockets (nodes and host backends).

Why a separate module: the air (air.py) and the bleak backend (backend.py)
must agree byte for byte; the node side (simulators/upy/bluetooth.py, under
MicroPython) repeats the node codes. simulators/RADIO.md documents them.

Every message: u16 length (of type + body, little-endian), u8 type, body.
"""

import struct

# node -> air
N_HELLO = 1  # json {"node_id", "addr", "name", "mtu"}
N_CONFIG = 2  # json {"name", "mtu"}
N_ADV = 3  # <iB interval_us (-1 stops), connectable; u8 len + adv; u8 len + scan response
N_SERVICES = 4  # json [[svc_uuid, [[uuid, flags, value_handle, cccd_handle, [[uuid, flags, handle]...]]...]]...]
N_NOTIFY = 5  # <HH conn, handle; data
N_DISCONNECT = 6  # <H conn
N_READ_RESP = 7  # <HB req, status (0 ok, 1 denied); data
# air -> node
A_CONNECT = 20  # <HB6s conn, addr_type, central address
A_MTU = 21  # <HH conn, mtu
A_WRITE = 22  # <HH conn, handle; data
A_READ_REQ = 23  # <HHH conn, handle, req
A_DISCONNECT = 24  # <HB6s conn, reason, central address
A_CREDITS = 25  # <HH conn, buffers freed
A_CONN_UPDATE = 26  # <HHHH conn, interval (1.25 ms units), latency, supervision timeout (10 ms units)
# host -> air
H_SCAN = 40  # <B on
H_CONNECT = 41  # <I req; json {"address", "mtu"}
H_DISCONNECT = 42  # <I req
H_WRITE = 43  # <IHB req, handle, response; data
H_READ = 44  # <IH req, handle
H_SUBSCRIBE = 45  # <IHB req, handle, on
# air -> host
R_ADV = 60  # <6sbB address, rssi, connectable; u8 len + adv; u8 len + scan response
R_RESULT = 61  # <IB req, status (0 ok, else error); body (json for connect, bytes for read, text for errors)
R_NOTIFY = 62  # <H handle; data
R_DISCONNECTED = 63  # <B reason

# HCI disconnect reasons used by the air
REASON_SUPERVISION_TIMEOUT = 0x08
REASON_REMOTE_USER = 0x13
REASON_LOCAL_HOST = 0x16

HEADER = struct.Struct("<HB")


def pack(mtype, body=b""):
    return HEADER.pack(len(body) + 1, mtype) + bytes(body)


class Framer:
    """Splits a byte stream into (type, body) messages."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        out = []
        buf = self.buf
        i = 0
        n = len(buf)
        while n - i >= 3:
            ln, mtype = HEADER.unpack_from(buf, i)
            if ln < 1:
                raise ValueError("air message with zero length")
            if n - i - 2 < ln:
                break
            out.append((mtype, bytes(buf[i + 3 : i + 2 + ln])))
            i += 2 + ln
        if i:
            del buf[:i]
        return out


def addr_bytes(text):
    """'C0:4D:59:53:00:03' -> 6 bytes."""
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError("Bluetooth address must be 6 hex bytes like C0:4D:59:53:00:03, got %r" % text)
    return bytes(int(p, 16) for p in parts)


def addr_text(b):
    return ":".join("%02X" % x for x in b)
