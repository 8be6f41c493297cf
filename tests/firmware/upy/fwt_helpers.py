"""Shared pieces for the firmware's MicroPython tests: a scriptable board and asserts."""

import os
import struct

from myowire import codec

from board import Board

MASK30 = (1 << 30) - 1


def tmp_dir(name):
    """A fresh directory under $MYOSTRIDE_TEST_TMP (set by the pytest wrapper)."""
    base = os.getenv("MYOSTRIDE_TEST_TMP") or "/tmp"
    path = base + "/" + name
    try:
        os.mkdir(path)
    except OSError:
        for f in os.listdir(path):
            os.remove(path + "/" + f)
    return path


def emg_code(k):
    """Deterministic test signal: sample k of the fake ADC."""
    return ((k * 37) % 2001) - 1000


class FakeBoard(Board):
    """Board whose time the test sets; samples go through ring.put like the DRDY path."""

    ticks_bits = 30

    def __init__(self, fs_dir, node_id=5, emg_rates=(1000, 1926, 2000), imu_rates=(100, 200), t_us=5000000):
        self.fs_dir = fs_dir
        self.default_node_id = node_id
        self.emg_rates = emg_rates
        self.default_emg_hz = 2000
        self.imu_rates = imu_rates
        self.default_imu_hz = imu_rates[0] if imu_rates else 0
        self.nv_per_lsb = 500
        self.selftest = 0x0F
        self.t_us = t_us
        self.mv = 4000
        self.lead_off_ranges = []
        self.identified = 0
        self.resets = 0
        self.hold = False  # True: the 'interrupts' stop (to force ring overruns)
        self._emg = None
        self._imu = None
        self._imu_rec = bytearray(12)

    def clock_origin_us(self):
        return self.t_us

    def ticks_us(self):
        return self.t_us & MASK30

    def start(self, emg_ring, imu_ring, imu_hz, foot_cb, emg_hz):
        self._emg = emg_ring
        self._imu = imu_ring
        self.emg_hz = emg_hz
        self.imu_hz = imu_hz
        self.foot_cb = foot_cb
        self._k = self.t_us * emg_hz // 1000000 + 1
        self._j = self.t_us * imu_hz // 1000000 + 1 if imu_hz else 0

    def poll(self):
        if self.hold:
            return False
        k_end = self.t_us * self.emg_hz // 1000000 + 1
        while self._k < k_end:
            self._emg.put(emg_code(self._k))
            self._k += 1
        if self.imu_hz:
            j_end = self.t_us * self.imu_hz // 1000000 + 1
            while self._j < j_end:
                struct.pack_into("<6h", self._imu_rec, 0, self._j & 0x7FFF, 1, 2, 3, 4, -5)
                self._imu.put_record(self._imu_rec, 0)
                self._j += 1
        return False

    def skip_to(self, t_us):
        """Jump time without delivering: those samples are 'lost by the hardware'."""
        self.t_us = t_us

    def emg_next(self):
        return self._k

    def imu_next(self):
        return self._j

    def lead_off(self, k0, k1):
        for a, b in self.lead_off_ranges:
            if a < k1 and b > k0:
                return True
        return False

    def battery_mv(self):
        return self.mv

    def identify(self, seconds):
        self.identified = seconds

    def idle(self, node_ms):
        pass

    def reset(self):
        self.resets += 1
        return False


def make_node(name, cfg_text=None, **kw):
    """A Node on a FakeBoard with the fake `bluetooth`; returns (node, board, ble)."""
    import gc
    import bluetooth
    from node import Node

    bluetooth.BLE.last = None
    gc.collect()
    d = tmp_dir(name)
    if cfg_text is not None:
        with open(d + "/config.json", "w") as f:
            f.write(cfg_text)
    b = FakeBoard(d, **kw)
    n = Node(b, bluetooth)
    return n, b, bluetooth.BLE.last


def connect(node, ble, mtu=247):
    ble.central_connect()
    ble.exchange_mtu(mtu)


def command(node, ble, cmd_id, opcode, args=b"", to=None):
    """Write a command; returns the decoded reply notified on REPLY."""
    nid = node.cfg["node_id"] if to is None else to
    ble.central_write(node.radio.h_control, codec.encode_command(nid, cmd_id, 111, opcode, args))
    node.process_commands()  # what the main loop does next (only sync is answered in the IRQ)
    return reply(node, ble, cmd_id)


def reply(node, ble, cmd_id):
    """The one reply frame notified on REPLY (reassembled from fragments at small MTU)."""
    notes = ble.take_notes(node.radio.h_reply)
    ra = codec.Reassembler()
    frames = [f for f in [ra.feed(x) for x in notes] if f is not None]
    assert len(frames) == 1, "expected one reply, got %d" % len(frames)
    r = codec.decode_frame(frames[0])
    assert r["seq"] == cmd_id, r
    return r


def run_for(node, board, us, step_us=10000):
    end = board.t_us + us
    while board.t_us < end:
        board.t_us += step_us
        node.step()


def data_frames(node, ble, allow_dropped=0):
    """Decode everything notified on DATA so far (reassembling fragments)."""
    r = codec.Reassembler()
    out = []
    for n in ble.take_notes(node.radio.h_data):
        f = r.feed(n)
        if f is not None:
            out.append(codec.decode_frame(f))
    assert r.dropped <= allow_dropped, "fragments were lost (%d frames dropped)" % r.dropped
    return out


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))
