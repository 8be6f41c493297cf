"""`bluetooth` for the MicroPython unix port: the BLE peripheral subset myostride firmware uses.

Why: the unix port has no `bluetooth`; this module lets the unmodified firmware
run against the simulator's virtual air (simulators/myosim/air.py) as if a
NimBLE stack were underneath. API, IRQ codes and data tuples follow
MicroPython's `bluetooth.BLE` docs; the air wire format is in simulators/RADIO.md.

What real stacks do and we copy: notifications cut to MTU-3; a small pool of
notify buffers per link (OSError(ENOMEM) when empty; buffers come back when
the air transmits them at connection events); incoming writes truncated to
the characteristic buffer (20 bytes unless gatts_set_buffer); advertising
payloads > 31 bytes rejected; advertising stops when a central connects.

Return values, errors and IRQs follow MicroPython v1.28's NimBLE
`bluetooth` as measured by tests/sim_radio/test_sim_conformance.py (the same
scripted peripheral on both); simulators/RADIO.md lists what differed and was
changed, and what still differs and why.

IRQ delivery: a _thread reads the air socket and queues events; one
micropython.schedule callback drains the queue and calls the handler in the
main thread (STM32-style). MYOSTRIDE_SIM_IRQ=thread calls the handler from the
reader thread instead (ESP32-style synchronous events). Note: on the unix port
a main thread blocked in select.poll (an idle asyncio loop waiting on sockets
only) runs scheduled callbacks only when the poll returns.

The air is found by env MYOSTRIDE_SIM_NODE -> node.json "world" -> world.json
"air_socket" (AF_UNIX).
"""

import _thread
import json
import os
import socket
import struct
import time

import micropython
from micropython import const

# IRQ codes (MicroPython docs).
_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_GATTS_READ_REQUEST = const(4)
_IRQ_MTU_EXCHANGED = const(21)
_IRQ_CONNECTION_UPDATE = const(27)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)

_FLAG_NOTIFY = const(0x0010)
_FLAG_INDICATE = const(0x0020)

_ENOMEM = const(12)
_EPERM = const(1)
_ENODEV = const(19)  # NimBLE's answer to GAP/GATT calls before active(True)
_EINVAL = const(22)
_ADV_TOO_LONG = const(-18)  # what NimBLE's gap_advertise raises for > 31 bytes of advertising data
_ENOTCONN = const(107)

# Module constants MicroPython's bluetooth also exports (firmware usually defines its own).
FLAG_READ = const(0x0002)
FLAG_WRITE_NO_RESPONSE = const(0x0004)
FLAG_WRITE = const(0x0008)
FLAG_NOTIFY = const(0x0010)
FLAG_INDICATE = const(0x0020)

ADV_MAX = const(31)
DEFAULT_ATTR_LEN = const(20)  # MicroPython's initial characteristic buffer
NOTIFY_CREDITS = const(12)  # notify buffers per link (NimBLE-like msys pool)
DEFAULT_MTU = const(256)  # NimBLE's preferred ATT MTU in MicroPython builds
# NimBLE's own GAP and GATT services hold handles 1-18, so its first service starts at 19. We
# keep numbering from 1: the virtual air's seeded loss streams are keyed by handle, so renumbering
# would change every seeded scenario; the firmware never depends on handle values (RADIO.md).
FIRST_HANDLE = const(1)

# Air wire: u16 length (of type + body), u8 type, body. See simulators/RADIO.md.
N_HELLO = const(1)
N_CONFIG = const(2)
N_ADV = const(3)
N_SERVICES = const(4)
N_NOTIFY = const(5)
N_DISCONNECT = const(6)
N_READ_RESP = const(7)
A_CONNECT = const(20)
A_MTU = const(21)
A_WRITE = const(22)
A_READ_REQ = const(23)
A_DISCONNECT = const(24)
A_CREDITS = const(25)
A_CONN_UPDATE = const(26)


class UUID:
    """16-bit (int) or 128-bit (str 'xxxxxxxx-xxxx-...' or 16 LE bytes) UUID."""

    def __init__(self, value):
        if isinstance(value, UUID):
            self._b = value._b
        elif isinstance(value, int):
            if value < 0 or value > 0xFFFF:
                raise ValueError("invalid UUID")
            self._b = struct.pack("<H", value)
        elif isinstance(value, str):
            h = value.replace("-", "")
            if len(h) != 32:
                raise ValueError("invalid UUID")
            self._b = bytes(reversed(bytes(int(h[i : i + 2], 16) for i in range(0, 32, 2))))
        else:
            b = bytes(value)
            if len(b) not in (2, 4, 16):
                raise ValueError("invalid UUID")
            self._b = b

    def __eq__(self, other):
        return isinstance(other, UUID) and self._b == other._b

    def __hash__(self):
        return hash(self._b)

    def text(self):
        """Lower-case canonical string: '0x2a19' style for 16/32-bit, dashed for 128-bit."""
        b = bytes(reversed(self._b))
        if len(b) != 16:
            return "0x" + "".join("%02x" % x for x in b)
        h = "".join("%02x" % x for x in b)
        return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])

    def __repr__(self):
        t = self.text()
        if t.startswith("0x"):
            return "UUID(%s)" % t
        return "UUID('%s')" % t

    __str__ = __repr__


def _sockaddr(path):
    return struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0"


def _find_air():
    node_json = os.getenv("MYOSTRIDE_SIM_NODE")
    if not node_json:
        raise OSError(_EPERM, "bluetooth emulation: MYOSTRIDE_SIM_NODE is not set (path of the node's node.json)")
    with open(node_json) as f:
        node = json.load(f)
    with open(node["world"]) as f:
        world = json.load(f)
    return node, world["air_socket"]


class _Attr:
    __slots__ = ("value", "alloc", "append")

    def __init__(self):
        self.value = b""
        self.alloc = DEFAULT_ATTR_LEN
        self.append = False


class BLE:
    """The one BLE object (MicroPython returns a singleton too)."""

    _instance = None

    def __new__(cls):
        if BLE._instance is None:
            o = object.__new__(cls)
            o._init()
            BLE._instance = o
        return BLE._instance

    def __init__(self):
        pass

    def _init(self):
        self._active = False
        self._sock = None
        self._handler = None
        self._name = b"MPY"
        self._mtu = DEFAULT_MTU
        self._rxbuf = 0
        self._addr = b"\0" * 6
        self._node = None
        self._attrs = {}
        self._conns = {}  # conn handle -> [sent, returned, mtu, sent_nested] (see gatts_notify)
        self._peers = {}  # conn handle -> (addr_type, addr) of the central, for the disconnect IRQ
        self._events = []
        self._pending = False
        self._ev_lock = _thread.allocate_lock()
        self._thread_mode = os.getenv("MYOSTRIDE_SIM_IRQ") == "thread"
        # Each air message goes out in ONE write call. In schedule mode every send
        # runs in the main thread and a scheduled IRQ can run between any two
        # bytecodes (also inside a `with lock:`), so a lock would deadlock; a
        # single write cannot be interleaved. Thread mode sends from two threads
        # and needs the lock.
        self._send_lock = _thread.allocate_lock() if self._thread_mode else None
        self._tx = bytearray(7 + 517)  # one notification: header + up to MTU-3 bytes
        self._tx_busy = False
        self._drain_ref = self._drain  # bound once: schedule() must not allocate
        self._last_adv = b""
        self._last_resp = b""
        self._reader_gen = 0

    # ------------------------------------------------------------ basics

    def active(self, *args):
        if not args:
            return self._active
        on = bool(args[0])
        if on and not self._active:
            node, path = _find_air()
            self._node = node
            nid = int(node["node_id"]) & 0xFF
            self._addr = bytes((0xC0, 0x4D, 0x59, 0x53, 0x00, nid))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(_sockaddr(path))
            except OSError as e:
                s.close()
                raise OSError(e.errno if hasattr(e, "errno") else _EPERM, "bluetooth emulation: no virtual air at " + path)
            self._sock = s
            self._active = True
            self._reader_gen += 1
            _thread.start_new_thread(self._reader, (s, self._reader_gen))
            self._send_json(N_HELLO, {"node_id": node["node_id"], "addr": _hex(self._addr), "name": self._name.decode(), "mtu": self._mtu})
            # NimBLE's key store asks for its secrets at start-up and stores one (seen on v1.28).
            self._queue(_IRQ_GET_SECRET, (2, 0, None))
            self._queue(_IRQ_GET_SECRET, (10, 0, b"\0\0\0"))
            self._queue(_IRQ_SET_SECRET, (10, b"\0\0\0", bytes(16)))
        elif not on and self._active:
            self._active = False
            s = self._sock
            self._sock = None
            self._conns = {}
            try:
                s.close()
            except OSError:
                pass
        return self._active

    def _check_active(self):
        if not self._active:
            raise OSError(_ENODEV)

    def config(self, *args, **kwargs):
        if args:
            if len(args) != 1 or kwargs:
                raise TypeError("config takes one name or keyword arguments")
            k = args[0]
            if k == "mac":
                self._check_active()
                return (1, self._addr)
            if k == "gap_name":
                return self._name
            if k == "mtu":
                self._check_active()
                return self._mtu
            if k == "addr_mode":
                return 1
            raise ValueError("unknown config param")
        for k in kwargs:
            v = kwargs[k]
            if k == "gap_name":
                self._name = v.encode() if isinstance(v, str) else bytes(v)
            elif k == "mtu":
                self._check_active()
                if v < 23 or v > 517:
                    raise ValueError("mtu must be 23-517")
                self._mtu = v
            elif k in ("addr_mode", "bond", "mitm", "io", "le_secure"):
                pass
            else:
                raise ValueError("unknown config param")
        if self._active:
            self._send_json(N_CONFIG, {"name": self._name.decode(), "mtu": self._mtu})
        return None

    def irq(self, handler):
        self._handler = handler

    # ------------------------------------------------------------ GAP

    def gap_advertise(self, interval_us, adv_data=None, *, resp_data=None, connectable=True):
        self._check_active()
        if interval_us is None:
            self._send(N_ADV, struct.pack("<iB", -1, 0) + b"\0\0")
            return
        adv = self._last_adv if adv_data is None else bytes(adv_data)
        resp = self._last_resp if resp_data is None else bytes(resp_data)
        if len(adv) > ADV_MAX:
            raise OSError(_ADV_TOO_LONG)  # NimBLE: advertising data over 31 bytes
        if len(resp) > ADV_MAX:
            raise OSError(_EINVAL)  # NimBLE: scan response over 31 bytes
        self._last_adv = adv
        self._last_resp = resp
        body = struct.pack("<iB", int(interval_us), 1 if connectable else 0)
        body += bytes((len(self._last_adv),)) + self._last_adv + bytes((len(self._last_resp),)) + self._last_resp
        self._send(N_ADV, body)

    def gap_disconnect(self, conn_handle):
        self._check_active()
        if conn_handle not in self._conns:
            return False
        self._send(N_DISCONNECT, struct.pack("<H", conn_handle))
        return True

    # ------------------------------------------------------------ GATT server

    def gatts_register_services(self, services):
        """Assign handles like NimBLE: service, then per characteristic a declaration,
        its value, a CCCD if it notifies/indicates, then its descriptors."""
        self._check_active()
        self._attrs = {}
        table = []
        out = []
        h = FIRST_HANDLE
        for svc in services:
            suuid = UUID(svc[0])
            h += 1  # service declaration
            handles = []
            chars = []
            for ch in svc[1]:
                cuuid = UUID(ch[0])
                flags = ch[1]
                h += 1  # characteristic declaration
                vh = h
                h += 1
                self._attrs[vh] = _Attr()
                handles.append(vh)
                cccd = 0
                if flags & (_FLAG_NOTIFY | _FLAG_INDICATE):
                    cccd = h
                    h += 1
                descs = []
                if len(ch) > 2:
                    for d in ch[2]:
                        dh = h
                        h += 1
                        self._attrs[dh] = _Attr()
                        handles.append(dh)
                        descs.append([UUID(d[0]).text(), d[1], dh])
                chars.append([cuuid.text(), flags, vh, cccd, descs])
            table.append([suuid.text(), chars])
            out.append(tuple(handles))
        self._send_json(N_SERVICES, table)
        return tuple(out)

    def _attr(self, handle):
        a = self._attrs.get(handle)
        if a is None:
            raise OSError(_EINVAL)  # NimBLE: no such attribute
        return a

    def gatts_read(self, value_handle):
        """NimBLE answers b"" for a handle it does not hold, also before active(True)."""
        a = self._attrs.get(value_handle) if self._active else None
        return a.value if a is not None else b""

    def gatts_write(self, value_handle, data, send_update=False):
        """Returns the number of bytes written, as MicroPython's NimBLE binding does."""
        self._check_active()
        a = self._attr(value_handle)
        a.value = bytes(data)
        if len(a.value) > a.alloc:
            a.alloc = len(a.value)
        if send_update:
            for c in list(self._conns):
                try:
                    self.gatts_notify(c, value_handle)
                except OSError:
                    pass
        return len(a.value)

    def gatts_set_buffer(self, value_handle, length, append=False):
        self._check_active()
        a = self._attr(value_handle)
        a.alloc = length
        a.append = bool(append)

    def gatts_notify(self, conn_handle, value_handle, data=None):
        """Queue one notification; OSError(ENOMEM) when the link's buffers are all in flight.

        Link counters [sent, returned, mtu, sent_nested]: each has one writer
        (main code, the reader thread, an IRQ nested in a notify) so no update
        is lost between threads or to a scheduled IRQ."""
        self._check_active()
        c = self._conns.get(conn_handle)
        if c is None:
            raise OSError(_ENOTCONN)
        if data is None:
            data = self._attr(value_handle).value
        elif value_handle not in self._attrs:
            raise OSError(_EINVAL)
        if c[0] + c[3] - c[1] >= NOTIFY_CREDITS:
            raise OSError(_ENOMEM)
        n = len(data)
        if n > c[2] - 3:
            n = c[2] - 3
        if self._tx_busy:  # an IRQ handler notifying while main code is mid-notify
            c[3] += 1
            self._send(N_NOTIFY, struct.pack("<HH", conn_handle, value_handle) + bytes(data[:n]))
            return
        self._tx_busy = True
        try:
            c[0] += 1
            tx = self._tx
            struct.pack_into("<HBHH", tx, 0, 5 + n, N_NOTIFY, conn_handle, value_handle)
            if n == len(data):
                tx[7 : 7 + n] = data
            else:
                tx[7 : 7 + n] = memoryview(data)[:n]
            lock = self._send_lock
            if lock is None:
                self._sock.write(tx, 7 + n)
            else:
                with lock:
                    self._sock.write(tx, 7 + n)
        finally:
            self._tx_busy = False

    # ------------------------------------------------------------ air link

    def _send(self, mtype, body):
        s = self._sock
        if s is None:
            raise OSError(_EPERM)
        msg = struct.pack("<HB", len(body) + 1, mtype) + body
        lock = self._send_lock
        if lock is None:
            s.write(msg)
        else:
            with lock:
                s.write(msg)

    def _send_json(self, mtype, obj):
        self._send(mtype, json.dumps(obj).encode())

    def _reader(self, s, gen):
        """Reader thread. Buffer-return messages (the frequent ones) are handled from
        preallocated buffers without touching the heap, like a real stack's controller."""
        hdr = bytearray(3)
        small = bytearray(4)
        try:
            while True:
                if s.readinto(hdr, 3) < 3:
                    break
                n = (hdr[0] | (hdr[1] << 8)) - 1
                mtype = hdr[2]
                if mtype == A_CREDITS and n == 4:
                    if s.readinto(small, 4) < 4:
                        break
                    c = self._conns.get(small[0] | (small[1] << 8))
                    if c is not None:
                        c[1] += small[2] | (small[3] << 8)
                    continue
                body = bytearray(n)
                if n > 0 and s.readinto(body, n) < n:
                    break
                self._on_message(mtype, body)
        except OSError:
            pass
        if self._reader_gen == gen and self._active:
            # The air went away: every link is lost, as when the radio dies.
            for c in list(self._conns):
                self._conns.pop(c, None)
                peer = self._peers.pop(c, (255, b""))
                self._queue(_IRQ_CENTRAL_DISCONNECT, (c, peer[0], peer[1]))

    def _on_message(self, mtype, body):
        if mtype == A_WRITE:
            conn, handle = struct.unpack_from("<HH", body, 0)
            a = self._attrs.get(handle)
            if a is None or conn not in self._conns:
                return
            data = bytes(body[4:])
            if a.append:
                data = a.value + data
            a.value = data[: a.alloc]
            self._queue(_IRQ_GATTS_WRITE, (conn, handle))
        elif mtype == A_READ_REQ:
            conn, handle, req = struct.unpack("<HHH", body)
            self._queue(_IRQ_GATTS_READ_REQUEST, (conn, handle, req))
        elif mtype == A_CONNECT:
            conn, addr_type = struct.unpack_from("<HB", body, 0)
            addr = bytes(body[3:9])
            self._conns[conn] = [0, 0, 23, 0]
            self._peers[conn] = (addr_type, addr)
            self._queue(_IRQ_CENTRAL_CONNECT, (conn, addr_type, addr))
        elif mtype == A_MTU:
            conn, mtu = struct.unpack("<HH", body)
            c = self._conns.get(conn)
            if c is not None:
                c[2] = mtu
                self._queue(_IRQ_MTU_EXCHANGED, (conn, mtu))
        elif mtype == A_CONN_UPDATE:
            conn, itv, lat, tmo = struct.unpack("<HHHH", body)
            if conn in self._conns:
                self._queue(_IRQ_CONNECTION_UPDATE, (conn, itv, lat, tmo, 0))
        elif mtype == A_DISCONNECT:
            conn, reason = struct.unpack_from("<HB", body, 0)
            if conn in self._conns:
                del self._conns[conn]
                # NimBLE reports the peer as at connect time, and no reason code.
                peer = self._peers.pop(conn, (1, bytes(body[3:9])))
                self._queue(_IRQ_CENTRAL_DISCONNECT, (conn, peer[0], peer[1]))

    def _queue(self, event, data):
        if self._thread_mode:
            self._dispatch(event, data)
            return
        with self._ev_lock:
            self._events.append((event, data))
            if self._pending:
                return
            self._pending = True
        while True:
            try:
                micropython.schedule(self._drain_ref, None)
                return
            except RuntimeError:  # scheduler queue full: the main thread will catch up
                time.sleep_ms(1)

    def _drain(self, _arg):
        while True:
            with self._ev_lock:
                if not self._events:
                    self._pending = False
                    return
                ev = self._events.pop(0)
            self._dispatch(ev[0], ev[1])

    def _dispatch(self, event, data):
        h = self._handler
        if event == _IRQ_GATTS_READ_REQUEST:
            conn, handle, req = data
            deny = h(event, (conn, handle)) if h is not None else None
            a = self._attrs.get(handle)
            value = a.value if a is not None else b""
            status = 1 if deny else 0
            try:
                self._send(N_READ_RESP, struct.pack("<HB", req, status) + (b"" if status else value))
            except OSError:
                pass
            return
        if event == _IRQ_CENTRAL_DISCONNECT and not data[2]:
            data = (data[0], data[1], b"\0" * 6)
        if h is not None:
            h(event, data)


def _hex(b):
    return ":".join("%02X" % x for x in b)
