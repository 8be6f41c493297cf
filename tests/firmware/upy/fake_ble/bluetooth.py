"""A tiny stand-in for MicroPython's `bluetooth` module, for firmware unit tests.

It records what the firmware does (services, advertising, notifications) and
lets a test play the central: connect, exchange MTU, write CONTROL, and make
the notify buffer "full" (OSError ENOMEM) for a number of calls. The real
end-to-end radio emulation is simulators/upy/bluetooth.py.
"""

FLAG_READ = 0x02
FLAG_WRITE_NO_RESPONSE = 0x04
FLAG_WRITE = 0x08
FLAG_NOTIFY = 0x10


class UUID:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, UUID) and other.value == self.value


class BLE:
    last = None
    adv_refusals = 0  # the next BLE refuses this many gap_advertise calls (NimBLE at boot: OSError -21)

    def __init__(self):
        BLE.last = self
        self._active = False
        self.cfg = {}
        self.handler = None
        self.adv = None
        self.resp = None
        self.advertising = False
        self.values = {}
        self.notes = []  # (conn, handle, bytes)
        self.enomem_next = 0  # fail this many notify calls with ENOMEM
        self.enomem_after = -1  # succeed this many notify calls, then fail one with ENOMEM
        self.notify_limit = None  # max bytes per notification (MTU - 3), None = no check
        self.disconnected = []
        self._next_handle = 1
        self.services = None
        self.connected = set()
        self.adv_refuse = BLE.adv_refusals
        BLE.adv_refusals = 0

    def active(self, *a):
        if a:
            self._active = bool(a[0])
            if not self._active:
                self.adv_refuse = 0  # a restarted stack comes up with its address
                self.restarts = getattr(self, "restarts", 0) + 1
        return self._active

    def config(self, *a, **kw):
        if a:
            return self.cfg.get(a[0])
        self.cfg.update(kw)

    def irq(self, handler):
        self.handler = handler

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        if self.adv_refuse:
            self.adv_refuse -= 1
            raise OSError(-21)
        if adv_data is not None and len(adv_data) > 31:
            raise ValueError("advertising data too long")
        self.adv = bytes(adv_data) if adv_data is not None else None
        self.resp = bytes(resp_data) if resp_data is not None else None
        self.advertising = interval_us is not None

    def gatts_register_services(self, services):
        out = []
        for uuid, chars in services:
            hs = []
            for c in chars:
                self._next_handle += 1
                hs.append(self._next_handle)
                self.values[self._next_handle] = b""
            out.append(tuple(hs))
        self.services = services
        return tuple(out)

    def gatts_set_buffer(self, handle, n, append=False):
        pass

    def gatts_read(self, handle):
        return self.values[handle]

    def gatts_write(self, handle, data, send_update=False):
        self.values[handle] = bytes(data)

    def gatts_notify(self, conn, handle, data=None):
        if not isinstance(conn, int):
            raise TypeError("can't convert %s to int" % type(conn).__name__)
        if conn not in self.connected:
            raise OSError(128)  # ENOTCONN, as NimBLE answers for a dead handle
        if self.enomem_after == 0:
            self.enomem_after = -1
            raise OSError(12)
        if self.enomem_after > 0:
            self.enomem_after -= 1
        if self.enomem_next > 0:
            self.enomem_next -= 1
            raise OSError(12)
        d = bytes(data)
        if self.notify_limit is not None and len(d) > self.notify_limit:
            raise AssertionError("notification of %d bytes exceeds MTU-3 = %d" % (len(d), self.notify_limit))
        self.notes.append((conn, handle, d))

    def gap_disconnect(self, conn):
        """Like the real stack: the link drops and the disconnect IRQ follows."""
        self.disconnected.append(conn)
        self.connected.discard(conn)
        self.handler(2, (conn, 0, b"\x00" * 6))
        return True

    # ---- test helpers: play the central
    def central_connect(self, conn=1):
        self.advertising = False
        self.connected.add(conn)
        self.handler(1, (conn, 0, b"\x00" * 6))

    def central_disconnect(self, conn=1):
        self.connected.discard(conn)
        self.handler(2, (conn, 0, b"\x00" * 6))

    def exchange_mtu(self, mtu, conn=1):
        self.notify_limit = mtu - 3
        self.handler(21, (conn, mtu))

    def central_write(self, handle, data, conn=1):
        self.values[handle] = bytes(data)
        self.handler(3, (conn, handle))

    def take_notes(self, handle=None):
        out = [d for (c, h, d) in self.notes if handle is None or h == handle]
        self.notes = [n for n in self.notes if not (handle is None or n[1] == handle)]
        return out
