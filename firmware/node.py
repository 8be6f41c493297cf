"""The node application: acquisition -> filter -> packetiser -> frame store -> radio.

The data-ready interrupt (or the simulated board) fills the EMG ring; the main
loop drains it and filters every sample (always, so the filter is settled when
streaming starts). Frames are cut on fixed sample boundaries counted from boot
(EMG frame i holds samples [i*n, (i+1)*n) for the MTU's n; IMU likewise) and the
streams' frames take seq numbers in node-time order: before an EMG frame is
stored, every IMU, footswitch and status frame due by its last sample is. So a
frame's seq and bytes depend only on the samples and the MTU, never on how the
main loop happened to batch them. Every frame is stored, streaming or not;
START makes the store's frames live from the frame in progress on. A gap the
ring reports (overrun) closes the current frame early and moves the sample
index on, so timestamps stay exact and the loss shows in status.
"""

import sys
import time

from myowire import codec

# radio is the largest module: compiled first, while the heap is least fragmented
# (a 256 KB heap that already holds the frame store; tests/firmware fwt_boot_small_heap)
from radio import PREFERRED_MTU, Radio
import config
import status
from clock import Clock
from commands import Commands
from filters import FilterChain, full_scale_count
from framestore import STORE_SECONDS, for_board
from packetizer import Packetizer, SampleClock, imu_samples_for_mtu
from ring import Ring
from version import FIRMWARE_VERSION

STATUS_PERIOD_US = 1000000
ADV_RETRY_US = 200000  # advertising refused by the stack: try again this much later
ADV_RESTART_AFTER = 5  # ... and restart the stack after this many refusals in a row
IDLE_NODE_MS = 10
# The unix port's sleep_ms runs scheduled (soft) IRQs only every ~0.5 ms, so a
# time-sync write would be stamped (t2) up to ~0.6 ms late; sleep_us slices bound
# that while a link is up (same CPU as its sleep_ms). ESP32/STM32: sleep_ms wakes
# at once for a soft IRQ, so the board's own idle is already prompt there.
IDLE_SLICE_US = 150 if sys.platform in ("linux", "darwin") else 0
_EMG_RING = 2048  # ~1 s at 2 kHz between main-loop passes before overrun
_IMU_RING = 256
_MAX_PENDING_CMDS = 8
_MAX_FOOT_EVENTS = 32
_FILTER_KEYS = ("emg_hz", "highpass_hz", "highpass_order", "powerline_hz")
_RATE_KEYS = ("emg_hz", "imu_hz")


def _changed(a, b, keys):
    for k in keys:
        if a[k] != b[k]:
            return True
    return False


class Node:
    def __init__(self, board, bluetooth, store=None):
        """store: a FrameStore allocated early (startup.py) so a fragmented heap can hold it."""
        self.board = board
        if board.keeps_clock:  # the board keeps the node clock itself (reference board)
            self.clock = board
        else:  # extend the board's wrapping ticks counter (simulated board: its crystal)
            self.clock = Clock(board.ticks_us, board.ticks_bits, board.clock_origin_us())
        self.cfg_path = board.fs_dir + "/" + config.FILE_NAME
        self.cfg, self.cfg_error = config.load(self.cfg_path, board)
        if self.cfg_error:
            print("node: config.json rejected (%s); running on defaults" % self.cfg_error)
        self.emg_ring = Ring(_EMG_RING, 1)
        self.imu_ring = Ring(_IMU_RING, 6)
        self.store = store if store is not None else for_board(board, STORE_SECONDS)
        self.pk = Packetizer(self.store, self.cfg["node_id"])
        self.stage = bytearray(2 * codec.MAX_COUNT)
        self.imu_stage = bytearray(12 * codec.MAX_COUNT)
        self.foot_events = []
        self.streaming = False
        self.overrun_samples = 0
        self.clipped = 0  # saturated filter outputs since the last periodic status
        self.raw_clipped = 0  # raw codes at full scale since the last periodic status
        self.lead_off = False
        self.reboot_at_us = 0
        self._pending_cmds = []
        self._mtu_pending = 0
        self._mtu = PREFERRED_MTU  # frame size from boot: what the node asks the central for
        self.emg_n = 0
        self.imu_n = 0
        self.k0 = -1  # next EMG sample index; set by _start_board
        self._apply_config(None)
        self.commands = Commands(self)
        self.radio = Radio(bluetooth, self.store, self)
        self._start_board()
        now = self.clock.now_us()
        self._fallback_us = now + 2 * STATUS_PERIOD_US
        self._fallback_k = -1
        self._status(now, False)  # the readable status until the first periodic one
        self._adv_retry_us = 0
        self._adv_refusals = 0
        self._advertise()

    def _apply_config(self, old):
        """Apply self.cfg; the filter is rebuilt (and re-primed) only if its settings
        changed, so a configure that repeats them leaves the sample stream untouched."""
        c = self.cfg
        if old is None or _changed(old, c, _FILTER_KEYS):
            self.filter = FilterChain(c["emg_hz"], c["highpass_hz"], c["highpass_order"], c["powerline_hz"])
            self._prime = True  # settle the filter on the first sample that arrives
        self.pk.node_id = c["node_id"]
        self._set_mtu(self._mtu)

    def _start_board(self):
        """(Re)start acquisition and align sample indices with what the board delivers next."""
        c = self.cfg
        self.board.start(self.emg_ring, self.imu_ring, c["imu_hz"], self._foot_edge, c["emg_hz"])
        k_epoch, j_epoch, epoch_us = self.board.time_base()
        self.emg_clock = SampleClock(c["emg_hz"], k_epoch, epoch_us)
        self.imu_clock = SampleClock(c["imu_hz"], j_epoch, epoch_us) if c["imu_hz"] else None
        self.emg_ring.reset()
        self.imu_ring.reset()
        self._prime = True  # a (re)started converter: settle the filter on its first sample
        self.fill = 0
        self.k0 = self.board.emg_next()
        self.emg_end = (self.k0 // self.emg_n + 1) * self.emg_n
        self.imu_fill = 0
        self.j0 = self.board.imu_next()
        self.imu_end = (self.j0 // self.imu_n + 1) * self.imu_n
        hz = c["emg_hz"]
        self.status_k = (self.k0 + hz - 1) // hz * hz  # periodic status at every whole second of samples
        self.foot_events = []

    def _set_mtu(self, mtu):
        """Frame sizes for this MTU (main loop only). Boundaries stay multiples of the frame
        size counted from boot; a partial frame already past the new boundary goes out now."""
        self._mtu = mtu
        n = codec.emg_samples_for_mtu(mtu)
        ni = imu_samples_for_mtu(mtu)
        if n == self.emg_n and ni == self.imu_n:
            return
        self.emg_n = n
        self.imu_n = ni
        if self.k0 < 0:
            return  # boot: _start_board sets the boundaries
        self.emg_end = (self.k0 // n + 1) * n
        if self.fill and self.k0 + self.fill >= self.emg_end:
            self._emit_emg()
        self.imu_end = (self.j0 // ni + 1) * ni
        if self.imu_fill and self.j0 + self.imu_fill >= self.imu_end:
            self._emit_imu()

    def _advertise(self):
        """Start advertising; if the stack refuses (a controller still starting, seen with NimBLE
        over HCI as OSError -21 at boot), try again from the main loop instead of dying."""
        try:
            self.radio.advertise(self.cfg["node_id"], FIRMWARE_VERSION, status.battery_pct(self.board.battery_mv()))
            self._adv_retry_us = 0
            self._adv_refusals = 0
        except OSError as exc:
            self._adv_refusals += 1
            print("node %d: advertising refused (%s); retrying" % (self.cfg["node_id"], exc))
            if self._adv_refusals % ADV_RESTART_AFTER == 0:
                print("node %d: restarting the Bluetooth stack" % self.cfg["node_id"])
                try:
                    self.radio.restart_stack()
                except OSError as exc2:
                    print("node %d: stack restart failed (%s)" % (self.cfg["node_id"], exc2))
            self._adv_retry_us = self.clock.now_us() + ADV_RETRY_US

    # ---- radio callbacks
    def now_us(self):
        return self.clock.now_us()

    def on_connect(self):
        print("node %d: central connected" % self.cfg["node_id"])

    def on_disconnect(self):
        print("node %d: central disconnected; advertising, still sampling" % self.cfg["node_id"])
        self._advertise()

    def on_mtu(self, mtu):
        self._mtu_pending = mtu  # applied by the main loop between frames

    def on_write(self, msg, t2_us):
        """A CONTROL write (IRQ context). Time-sync is answered at once; everything else
        touches the sample pipeline, so it waits for the main loop (IRQs run between
        bytecodes, possibly in the middle of framing)."""
        if len(msg) > codec.HEADER_SIZE and msg[codec.HEADER_SIZE] == codec.C_SYNC:
            self.commands.handle(msg, t2_us)
        elif len(self._pending_cmds) < _MAX_PENDING_CMDS:
            self._pending_cmds.append(msg)
        else:
            self.commands.busy(msg)

    def process_commands(self):
        """Run the commands the IRQ queued (main-loop context)."""
        while self._pending_cmds:
            self.commands.handle(self._pending_cmds.pop(0), 0)

    # ---- the loop
    def run(self):
        while True:
            self.step()
            self.idle()

    def idle(self):
        """Wait for the next pass, keeping soft-IRQ latency (the t2 stamp) short while linked."""
        if IDLE_SLICE_US and self.radio.connected():
            wait_us = int(IDLE_NODE_MS * 1000 / self.board.speed)
            end = time.ticks_add(time.ticks_us(), wait_us)
            while time.ticks_diff(end, time.ticks_us()) > 0:
                time.sleep_us(IDLE_SLICE_US)
        else:
            self.board.idle(IDLE_NODE_MS)

    def step(self):
        now = self.clock.now_us()
        if self._pending_cmds:
            self.process_commands()
        if self._mtu_pending:
            self._set_mtu(self._mtu_pending)
            self._mtu_pending = 0
        more = True
        while more:
            more = self.board.poll()
            self.drain_emg()
        if now >= self._fallback_us:
            # periodic status frames follow the samples; if the converter has delivered
            # nothing for 2 s (no front end), refresh the status from the clock instead
            self._fallback_us = now + 2 * STATUS_PERIOD_US
            k = self.k0 + self.fill
            if k == self._fallback_k:
                self._status(now, self.streaming)
            self._fallback_k = k
        self.radio.pump()
        if self._adv_retry_us and now >= self._adv_retry_us and self.radio.conn is None:
            self._advertise()
        if self.reboot_at_us and now >= self.reboot_at_us:
            self._reboot()

    def drain_emg(self):
        ring = self.emg_ring
        stage = self.stage
        while True:
            o = 2 * self.fill
            n = ring.take(stage, o, self.emg_end - self.k0 - self.fill)
            if n:
                if self._prime:
                    self._prime = False
                    x0 = stage[o] | (stage[o + 1] << 8)
                    self.filter.prime(x0 - 0x10000 if x0 & 0x8000 else x0)
                self.raw_clipped += full_scale_count(stage, o, n)
                self.clipped += self.filter.run(stage, o, stage, o, n)
                self.fill += n
                if self.k0 + self.fill >= self.emg_end:
                    self._emit_emg()
                continue
            lost = ring.pop_gap()
            if not lost:
                return
            if self.fill:
                self._emit_emg()
            self.k0 += lost
            self.emg_end = (self.k0 // self.emg_n + 1) * self.emg_n
            self.overrun_samples += lost

    def _emit_emg(self):
        """Store the EMG frame [k0, k0 + fill), after every other frame due by its last sample."""
        self._emit_due(self.k0 + self.fill - 1)
        self.pk.emg_frame(self.stage, self.fill, self.emg_clock.at(self.k0))
        if not self.lead_off and self.board.lead_off(self.k0, self.k0 + self.fill):
            self.lead_off = True  # also while idle: the host checks electrodes before a trial
        self.k0 += self.fill
        self.fill = 0
        self.emg_end = (self.k0 // self.emg_n + 1) * self.emg_n

    def _emit_due(self, k_last):
        """Store, in node-time order, the IMU, footswitch and status frames due at or
        before EMG sample k_last (ties: IMU, then footswitch, then status)."""
        hz = self.cfg["emg_hz"]
        while True:
            jl = -1
            if self.imu_clock is not None and self._imu_le(self.imu_end - 1, k_last) and self._fill_imu():
                jl = self.imu_end - 1
            fk = self.foot_events[0][0] if self.foot_events else -1
            if fk > k_last:
                fk = -1
            sk = self.status_k if self.status_k <= k_last else -1
            if jl >= 0 and (fk < 0 or self._imu_le(jl, fk)) and (sk < 0 or self._imu_le(jl, sk)):
                self._emit_imu()
            elif fk >= 0 and (sk < 0 or fk <= sk):
                self._emit_foot_one()
            elif sk >= 0:
                self.status_k = sk + hz
                self._status_at(sk)
            else:
                return

    def _imu_le(self, j, k):
        """True if IMU record j is not later than EMG sample k (exact, small ints only)."""
        ic = self.imu_clock
        ec = self.emg_clock
        a = j - ic.k_epoch
        b = k - ec.k_epoch
        ih = ic.rate_hz
        eh = ec.rate_hz
        qa = a // ih
        qb = b // eh
        if qa != qb:
            return qa < qb
        return (a - qa * ih) * eh <= (b - qb * eh) * ih

    def _fill_imu(self):
        """Take IMU records up to the current frame's boundary; True once it is complete.
        A ring gap closes the partial frame at once and moves the record index on."""
        ring = self.imu_ring
        while True:
            want = self.imu_end - self.j0 - self.imu_fill
            if want <= 0:
                return True
            n = ring.take(self.imu_stage, 12 * self.imu_fill, want)
            if n:
                self.imu_fill += n
                continue
            lost = ring.pop_gap()
            if not lost:
                return False
            if self.imu_fill:
                self._emit_imu()
            self.j0 += lost
            self.imu_end = (self.j0 // self.imu_n + 1) * self.imu_n

    def _emit_imu(self):
        self.pk.imu_frame(self.imu_stage, self.imu_fill, self.imu_clock.at(self.j0))
        self.j0 += self.imu_fill
        self.imu_fill = 0
        self.imu_end = (self.j0 // self.imu_n + 1) * self.imu_n

    def _foot_edge(self, k, inp, lvl):
        if len(self.foot_events) < _MAX_FOOT_EVENTS:
            self.foot_events.append((k, inp, lvl))

    def _emit_foot_one(self):
        k, inp, lvl = self.foot_events.pop(0)
        t = self.emg_clock.at(k)
        self.pk.foot_frame(t.s * 1000000 + t.us, [(0, inp, lvl)])

    # ---- status
    def flags(self, battery_mv, consume=False):
        """Status flags; consume: a periodic status clears the latched lead-off/clipping."""
        f = 0
        if self.lead_off:
            f |= codec.F_LEAD_OFF
        if self.clipped or self.raw_clipped:
            f |= codec.F_CLIPPING
        if consume:
            self.lead_off = False
            self.clipped = 0
            self.raw_clipped = 0
        if self.overrun_samples:
            f |= codec.F_OVERRUN
        if self.cfg_error:
            f |= codec.F_CONFIG_DEFAULTS
        if self.imu_clock is not None:
            f |= codec.F_IMU
        if self.streaming:
            f |= codec.F_STREAMING
        if battery_mv < status.LOW_BATTERY_MV:
            f |= codec.F_LOW_BATTERY
        if self.radio.connected():
            f |= codec.F_CONNECTED  # the one field that reflects the link, not the samples
        return f

    def status_fields(self, battery_mv=None, consume=False):
        if battery_mv is None:
            battery_mv = self.board.battery_mv()
        return status.fields(
            self.cfg,
            battery_mv,
            self.flags(battery_mv, consume),
            self.board.selftest,
            self.board.nv_per_lsb,
            self.overrun_samples,
            self.store.oldest_seq(),
        )

    def _status_at(self, k):
        """The periodic status frame, due at EMG sample k (a whole second of samples):
        stamped with k's time and the battery at that time, so it depends on the samples only."""
        t = self.emg_clock.at(k)
        t_us = t.s * 1000000 + t.us
        mv = self.board.battery_mv_at(t_us)
        seq = self.pk.status_frame(t_us, self.status_fields(mv, True))
        self.radio.set_status_value(self.store.frame(seq))

    def _status(self, now, to_store):
        """Status at node time now (status command, or no samples arriving): refresh the
        readable status; to_store also sends it as a data frame."""
        fields = self.status_fields()
        if to_store:
            frame = self.store.frame(self.pk.status_frame(now, fields))
        else:
            frame = codec.encode_status(self.cfg["node_id"], self.store.next_seq, now, fields)
        self.radio.set_status_value(frame)
        return frame

    # ---- what the commands (commands.py) ask of the pipeline
    def sync_frame(self, cmd_id, t1_us, t2_us):
        """The SYNC reply, t3 = node clock now (called by the radio right before notifying)."""
        return codec.encode_sync_reply(self.cfg["node_id"], cmd_id, t1_us, t2_us, self.clock.now_us())

    def flush_frames(self):
        """Store every sample taken so far, partial frames included (STOP)."""
        self.drain_emg()
        if self.fill:
            self._emit_emg()
        else:
            self._emit_due(self.k0 - 1)
        if self.imu_clock is not None:
            self._fill_imu()
            if self.imu_fill:
                self._emit_imu()

    def reconfigure(self, new):
        """Run on a validated, saved configuration; the sampling restarts only if a rate changed."""
        old = self.cfg
        self.cfg = new
        self.cfg_error = None
        self._apply_config(old)
        if _changed(old, new, _RATE_KEYS):
            self._start_board()  # same rates: sampling, filter and frame boundaries run on

    def status_now(self):
        """Refresh the readable status (and store it as a frame while streaming); the frame."""
        return self._status(self.clock.now_us(), self.streaming)

    def _reboot(self):
        self.reboot_at_us = 0
        print("node %d: rebooting" % self.cfg["node_id"])
        self.radio.disconnect()
        if not self.board.reset():
            # simulated board: restart the firmware's state as a reset would (seq from 0,
            # frame store and counters cleared); the node's crystal and sampling run on
            self.streaming = False
            self.store.reset()
            self.radio.reset_queue()
            self.overrun_samples = 0
            self.clipped = 0
            self.raw_clipped = 0
            self.lead_off = False
            self.cfg, self.cfg_error = config.load(self.cfg_path, self.board)
            self.fill = 0  # partial frames die with the RAM
            self.imu_fill = 0
            self._mtu = PREFERRED_MTU
            self._apply_config(None)
            self._start_board()
            # a reset clears the readable status too: until now it said "streaming" from the
            # old boot, so a host reconnecting within the second did not restart the node
            now = self.clock.now_us()
            self._fallback_us = now + 2 * STATUS_PERIOD_US
            self._fallback_k = -1
            self._status(now, False)
