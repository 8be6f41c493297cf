"""BLE peripheral through MicroPython's `bluetooth` module (NimBLE on ESP32, or
the simulator's emulation on the unix port; only the API subset both share).

One central at a time. Data frames are sent from the frame store (the store is
the transmit queue): live frames in seq order first, then resend ranges the
host asked for. The store numbers frames from boot, streaming or not; only the
frames between START and STOP are live (open_live / close_live). A frame longer than MTU-3 goes out as codec fragments. When the
stack's buffers are full (OSError ENOMEM) the frame stays where it is and the
radio backs off, doubling the pause, so nothing is lost. After a disconnect it
advertises again while the node keeps sampling into the store.
"""

import time
from micropython import const

from myowire import codec, gatt

from framestore import copy_bytes

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_FLAG_READ = const(0x0002)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)
_ENOMEM = const(12)
_ADV_INTERVAL_US = const(100000)
_PREFERRED_MTU = const(247)
PREFERRED_MTU = _PREFERRED_MTU  # what the node asks for; its frame size until an MTU exchange
_DEFAULT_MTU = const(23)
_BACKOFF_MIN_MS = const(2)
_BACKOFF_MAX_MS = const(64)
_NOTES_PER_PUMP = const(24)
_MAX_RANGES = const(8)
_MAX_REPLIES = const(8)
_MAX_VIEWS = const(16)


class Radio:
    def __init__(self, bluetooth, store, handler):
        """handler: object with on_connect(), on_disconnect(), on_mtu(mtu), on_write(msg, t2_us), now_us()."""
        self.store = store
        self.handler = handler
        self.bluetooth = bluetooth
        self.ble = bluetooth.BLE()
        self._bring_up()
        self.conn = None
        self.mtu = _DEFAULT_MTU
        self.live_open = False  # streaming: every new frame is live
        self.live_end = store.next_seq  # not streaming: live frames end before this seq
        self._reset_link(store.next_seq)
        self._tx = bytearray(_PREFERRED_MTU)  # the notification being sent (frame or fragment)
        self._txmv = memoryview(self._tx)
        self._views = {}  # length -> memoryview of _tx: exact-length buffers without allocating
        self._cur_frag = 0  # next fragment index of the frame being sent
        self._cur_step = 0  # its fragment payload size, fixed once it started
        self._busy = False  # main loop is inside a notify sequence
        self._retry_at = time.ticks_ms()
        self.enomem = 0
        self.sent = 0
        self.skipped = 0  # live frames evicted before they could be sent
        self.adv_data = b""
        self.name = ""

    def _bring_up(self):
        """Activate the stack and register our service (at start, and again on restart_stack)."""
        bluetooth = self.bluetooth
        self.ble.active(True)
        try:
            self.ble.config(mtu=_PREFERRED_MTU)
        except Exception:  # a stack without MTU configuration keeps 23
            pass
        self.ble.irq(self._irq)
        svc = (
            bluetooth.UUID(gatt.SERVICE_UUID),
            (
                (bluetooth.UUID(gatt.DATA_UUID), _FLAG_NOTIFY),
                (bluetooth.UUID(gatt.CONTROL_UUID), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE),
                (bluetooth.UUID(gatt.REPLY_UUID), _FLAG_NOTIFY | _FLAG_READ),
            ),
        )
        ((self.h_data, self.h_control, self.h_reply),) = self.ble.gatts_register_services((svc,))
        self.ble.gatts_set_buffer(self.h_control, 128)
        self.ble.gatts_set_buffer(self.h_reply, 128)

    def restart_stack(self):
        """Stop and start the host stack. NimBLE can come up without an identity address when an
        HCI command of its start-up fails (advertising then keeps failing with BLE_HS_ENOADDR,
        OSError -21); a restart runs its start-up again. Only called while not connected."""
        self.ble.active(False)
        self._bring_up()

    # ---- advertising
    def advertise(self, node_id, fw, battery_pct):
        self.name = gatt.node_name(node_id)
        try:
            self.ble.config(gap_name=self.name)
        except Exception:
            pass
        self.adv_data = gatt.advertising_payload(node_id, fw, battery_pct)
        self.ble.gap_advertise(_ADV_INTERVAL_US, self.adv_data, resp_data=gatt.scan_response_payload(), connectable=True)

    # ---- events (run from micropython.schedule, never from a hard IRQ)
    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            conn = data[0]
            if self.conn is not None:
                self.ble.gap_disconnect(conn)  # one central at a time
                return
            self.conn = conn
            self.mtu = _DEFAULT_MTU
            self._reset_link(self.store.next_seq)
            self.handler.on_connect()
        elif event == _IRQ_CENTRAL_DISCONNECT:
            if data[0] != self.conn:
                return
            self.conn = None
            self._reset_link(self.live_next)
            self.handler.on_disconnect()
        elif event == _IRQ_GATTS_WRITE:
            t2 = self.handler.now_us()  # time-sync receive time: as early as possible
            conn, handle = data[0], data[1]
            if conn == self.conn and handle == self.h_control:
                self.handler.on_write(self.ble.gatts_read(handle), t2)
        elif event == _IRQ_MTU_EXCHANGED:
            if data[0] == self.conn:
                self.mtu = data[1] if data[1] <= _PREFERRED_MTU else _PREFERRED_MTU
                self.handler.on_mtu(self.mtu)

    def connected(self):
        return self.conn is not None

    # ---- replies (REPLY characteristic)
    def reply(self, frame):
        """Notify an ACK frame on REPLY now (as fragments below its size); whatever the
        stack cannot take yet is queued and sent first by pump()."""
        if self.conn is None:
            return False
        parts = codec.fragment(frame, self.mtu - 3)
        if len(self._replies) + len(parts) > _MAX_REPLIES * 4:
            return False
        self._replies.extend(parts)
        if self._busy:  # an IRQ arrived while the main loop is sending: it will go next
            return False
        return self._flush_replies()

    def reply_sync(self, cmd_id, t1_us, t2_us):
        """Answer a time-sync ping; t3 is read just before the notify, also if it has to wait."""
        if self.conn is None:
            return False
        if len(self._replies) >= _MAX_REPLIES * 4:
            return False
        self._replies.append((cmd_id, t1_us, t2_us))
        if self._busy:
            return False
        return self._flush_replies()

    def _flush_replies(self):
        prev = self._busy
        self._busy = True
        try:
            while self._replies:
                item = self._replies[0]
                if isinstance(item, tuple):  # a pending SYNC: stamp t3 now
                    frame = self.handler.sync_frame(item[0], item[1], item[2])
                    parts = codec.fragment(frame, self.mtu - 3)
                    self._replies[0:1] = parts
                    item = parts[0]
                if not self._notify(self.h_reply, item):
                    return False
                if self._replies:  # (a disconnect IRQ may have emptied it meanwhile)
                    self._replies.pop(0)
            return True
        finally:
            self._busy = prev

    def set_status_value(self, frame):
        """Latest status frame, readable from REPLY."""
        self.ble.gatts_write(self.h_reply, frame)

    def _notify(self, handle, data):
        conn = self.conn
        if conn is None:  # the link dropped (a disconnect IRQ ran in between)
            return False
        try:
            self.ble.gatts_notify(conn, handle, data)
        except OSError as e:
            if e.args and e.args[0] == _ENOMEM:
                self.enomem += 1
                self._retry_at = time.ticks_add(time.ticks_ms(), self._backoff)
                if self._backoff < _BACKOFF_MAX_MS:
                    self._backoff *= 2
                return False
            raise
        self._backoff = _BACKOFF_MIN_MS
        return True

    # ---- resends
    def request_resend(self, first, last):
        """Queue [first, last] (clipped to what the store holds); False if the queue is full."""
        if len(self._ranges) >= _MAX_RANGES:
            return False
        self._ranges.append([first, last])
        return True

    def open_live(self, first):
        """START: frames from seq `first` on go out live."""
        self.live_next = first
        self.live_open = True

    def close_live(self):
        """STOP: what is in the store now still goes out; later frames are not live."""
        self.live_end = self.store.next_seq
        self.live_open = False

    def _live_end(self):
        return self.store.next_seq if self.live_open else self.live_end

    def pending(self):
        """Frames queued for sending (live backlog plus resends)."""
        n = self._live_end() - self.live_next
        if n < 0:
            n = 0
        if self._cur >= 0:
            n += 1
        for a, b in self._ranges:
            n += b - a + 1
        return n

    def _pick(self):
        st = self.store
        oldest = st.oldest_seq()
        if self.live_next < oldest:
            end = self._live_end()
            self.skipped += (end if end < oldest else oldest) - self.live_next if end > self.live_next else 0
            self.live_next = oldest
        if self.live_next < self._live_end():
            self._cur = self.live_next
            self.live_next += 1
            return True
        while self._ranges:
            r = self._ranges[0]
            if r[0] < oldest:
                r[0] = oldest
            if r[0] > r[1]:
                self._ranges.pop(0)
                continue
            self._cur = r[0]
            r[0] += 1
            return True
        return False

    def pump(self):
        """Send what is queued until the stack pushes back; call from the main loop."""
        if self.conn is None or time.ticks_diff(time.ticks_ms(), self._retry_at) < 0:
            return
        self._busy = True
        try:
            if not self._flush_replies():
                return
            budget = _NOTES_PER_PUMP
            st = self.store
            while budget > 0 and self.conn is not None:
                if self._cur < 0:
                    if not self._pick():
                        return
                    self._cur_frag = 0
                off = st.locate(self._cur)
                if off < 0:  # evicted before it went out
                    self._cur = -1
                    continue
                n = st.found_len
                page = st.found_buf
                room = self.mtu - 3
                if n <= room and self._cur_frag == 0:
                    copy_bytes(page, off, self._tx, 0, n)
                    if not self._notify(self.h_data, self._view(n)):
                        return
                    self._done()
                else:
                    # the fragment size is fixed for the whole frame (an MTU exchange
                    # mid-frame must not shift the offsets); restart it if it shrank
                    i = self._cur_frag
                    if i == 0 or self._cur_step > room - codec.FRAG_HEADER:
                        i = 0
                        self._cur_step = room - codec.FRAG_HEADER
                    step = self._cur_step
                    a = i * step
                    m = n - a if n - a < step else step
                    flags = codec.FRAG_MARK
                    if i == 0:
                        flags |= codec.FRAG_FIRST
                    if a + m >= n:
                        flags |= codec.FRAG_LAST
                    fb = self._tx
                    fb[0] = flags
                    fb[1] = i & 0xFF
                    copy_bytes(page, off + a, fb, 2, m)
                    if not self._notify(self.h_data, self._view(2 + m)):
                        self._cur_frag = i
                        return
                    if flags & codec.FRAG_LAST:
                        self._done()
                    else:
                        self._cur_frag = i + 1
                budget -= 1
        except OSError:
            # the link went away under us (not ENOMEM): the disconnect IRQ follows
            self._cur = -1
        finally:
            self._busy = False

    def _view(self, n):
        """memoryview of the first n bytes of the transmit buffer, made once per length
        (frames and fragments come in a handful of lengths), so notifying allocates nothing."""
        v = self._views.get(n)
        if v is None:
            v = self._txmv[0:n]
            if len(self._views) < _MAX_VIEWS:
                self._views[n] = v
        return v

    def _done(self):
        self._cur = -1
        self.sent += 1

    def _reset_link(self, live_next):
        """Forget what is in flight or queued (resend ranges, replies) and go on live from
        live_next: the one place for a new link, a lost link and a reset store."""
        self.live_next = live_next
        self._cur = -1  # seq being sent
        self._ranges = []  # [first, last] resend ranges, inclusive
        self._replies = []  # encoded replies (or pending SYNC tuples) waiting for buffer space
        self._backoff = _BACKOFF_MIN_MS

    def reset_queue(self):
        """The store was reset: nothing is in flight or queued any more."""
        self.live_open = False
        self.live_end = self.store.next_seq
        self._reset_link(self.store.next_seq)

    def disconnect(self):
        if self.conn is not None:
            try:
                self.ble.gap_disconnect(self.conn)
            except OSError:
                pass
