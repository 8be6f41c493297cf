"""Simulated board for the unix port: samples from the simulator's node files.

The node's crystal is the piecewise-linear table clock_knots (global sim time
-> node microseconds); global time g = (time_ns - epoch_ns) * speed / 1e9 as in
every simulator process. EMG sample k exists at node time k * 1e6 / emg_hz and
is handed to the firmware, once the node clock has passed it, through
ring.put: the same call the data-ready interrupt makes on the reference board.
Samples are delivered from k = 0 (node boot), so the same files give the same frames.
The firmware sees the clock only as a wrapping 30-bit ticks counter.
"""

import json
import struct
import time
from array import array

from myowire.codec import S_AFE, S_CLOCK, S_IMU, S_STORAGE

from board import Board

TICKS_BITS = 30
_MASK = (1 << TICKS_BITS) - 1
_CHUNK = 256


def _dirname(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


class SimBoard(Board):
    name = "sim"
    ticks_bits = TICKS_BITS

    def __init__(self, node_json):
        with open(node_json) as f:
            meta = json.load(f)
        with open(meta["world"]) as f:
            world = json.load(f)
        self.meta = meta
        self.dir = _dirname(node_json)
        self.fs_dir = meta["fw_dir"]
        self.epoch_ns = int(world["epoch_ns"])
        self.speed = float(world["speed"])
        kn = meta.pop("clock_knots")
        if len(kn) < 2:
            raise ValueError("node.json clock_knots needs at least 2 knots")
        self._kg = array("d", [k[0] for k in kn])  # compact: a long session has many knots
        self._ku = array("d", [k[1] for k in kn])
        kn = None
        self._ki = 0
        self.default_node_id = int(meta["node_id"])
        self.default_emg_hz = int(meta["emg_hz"])
        self.emg_rates = (self.default_emg_hz,)
        self.nv_per_lsb = int(meta["nv_per_lsb"])
        self.has_imu = bool(meta.get("imu"))
        self.imu_rates = (int(meta["imu_hz"]),) if self.has_imu else ()
        self.default_imu_hz = self.imu_rates[0] if self.has_imu else 0
        self.has_footswitch = bool(meta.get("footswitch"))
        self.lead_off_ranges = meta.get("lead_off", [])
        bat = meta.get("battery") or {}
        self._mv0 = bat.get("mv_start", 4100)
        self._mv_per_h = bat.get("mv_per_hour", 150)
        self._emg = open(self.dir + "/emg.i16", "rb")
        self._emg_buf = array("h", bytes(2 * _CHUNK))
        self._emg_k = 0  # next EMG sample to deliver
        self._imu = open(self.dir + "/imu.i16", "rb") if self.has_imu else None
        self._imu_buf = array("h", bytes(12 * 16))
        self._imu_j = 0
        self._foot = self._read_foot() if self.has_footswitch else b""
        self._foot_n = len(self._foot) // 6
        self._foot_i = 0
        self._emg_ring = None
        self._imu_ring = None
        self._foot_cb = None
        self._imu_hz = 0
        self.identify_until_us = 0
        self.selftest = self._self_test()

    def _self_test(self):
        """The bits RefBoard reports for working hardware, from what the node files provide."""
        import os

        bits = 0
        if self._emg.read(2):  # the 'front end' answers: there is EMG data
            self._emg.seek(0)
            bits |= S_AFE
        if self._imu is not None and self._imu.read(12):
            self._imu.seek(0)
            bits |= S_IMU
        kg = self._kg
        ku = self._ku
        ok = True
        for i in range(len(kg) - 1):
            if kg[i + 1] <= kg[i] or ku[i + 1] <= ku[i]:
                ok = False
        if ok:  # the crystal runs forward
            bits |= S_CLOCK
        try:
            os.stat(self.fs_dir)
            bits |= S_STORAGE
        except OSError:
            pass
        return bits

    def _read_foot(self):
        """foot.bin kept as raw bytes (<IBB per edge): a long session has thousands of edges."""
        with open(self.dir + "/foot.bin", "rb") as f:
            return f.read()

    def _foot_k(self, i):
        return struct.unpack_from("<I", self._foot, 6 * i)[0]

    # ---- clock
    def global_s(self):
        return (time.time_ns() - self.epoch_ns) * self.speed / 1e9

    def node_us(self):
        """The node crystal's full microsecond count now (hardware truth)."""
        g = self.global_s()
        kg = self._kg
        i = self._ki
        n = len(kg)
        while i + 2 < n and g >= kg[i + 1]:
            i += 1
        self._ki = i
        u0 = self._ku[i]
        return int(u0 + (g - kg[i]) * (self._ku[i + 1] - u0) / (kg[i + 1] - kg[i]))

    def ticks_us(self):
        return self.node_us() & _MASK

    def clock_origin_us(self):
        return self.node_us()

    # ---- acquisition
    def start(self, emg_ring, imu_ring, imu_hz, foot_cb, emg_hz):
        """Switch the simulated ADC and IMU on. Sampling runs from k = 0 at the node's
        boot (a restart continues the indices): the first poll catches up on the samples
        taken since, so the filter history, frame boundaries and seq numbers depend only
        on the node files, not on when the process got going."""
        if emg_hz != self.default_emg_hz:
            raise ValueError("simulated board records at %d Hz only" % self.default_emg_hz)
        if imu_hz and imu_hz not in self.imu_rates:
            raise ValueError("simulated IMU records at %s Hz only" % (self.imu_rates,))
        self._emg_ring = emg_ring
        self._imu_ring = imu_ring
        self._imu_hz = imu_hz
        self._foot_cb = foot_cb

    def poll(self, max_samples=512):
        """Deliver samples whose node time has passed, at most max_samples EMG samples
        per call (interrupts interleave with the main loop on hardware); returns True
        while more are due, so the caller drains the ring in between."""
        now = self.node_us()
        hz = self.default_emg_hz
        k_end = now * hz // 1000000 + 1
        more = False
        if k_end - self._emg_k > max_samples:
            k_end = self._emg_k + max_samples
            more = True
        ring = self._emg_ring
        buf = self._emg_buf
        while self._emg_k < k_end:
            want = k_end - self._emg_k
            if want > _CHUNK:
                want = _CHUNK
            got = self._emg.readinto(memoryview(buf)[0:want]) // 2
            if got <= 0:
                more = False
                break  # the recording ran out: no more samples exist
            put = ring.put
            for i in range(got):
                put(buf[i])  # the DRDY path
            self._emg_k += got
        while self._foot_i < self._foot_n and self._foot_k(self._foot_i) < self._emg_k:
            k, inp, lvl = struct.unpack_from("<IBB", self._foot, 6 * self._foot_i)
            self._foot_i += 1
            if self._foot_cb:
                self._foot_cb(k, inp, lvl)
        if self._imu is not None:
            # the IMU is due up to the node time of the last EMG sample delivered
            j_end = (self._emg_k * 1000000 // hz) * self.imu_rates[0] // 1000000 + 1
            ib = self._imu_buf
            while self._imu_j < j_end:
                want = j_end - self._imu_j
                if want > 16:
                    want = 16
                got = self._imu.readinto(memoryview(ib)[0 : 6 * want]) // 12
                if got <= 0:
                    break
                if self._imu_hz and self._imu_ring is not None:
                    for i in range(got):
                        self._imu_ring.put_record(ib, 12 * i)
                self._imu_j += got
        return more

    def emg_next(self):
        """Index k of the next EMG sample the board will deliver."""
        return self._emg_k

    def imu_next(self):
        return self._imu_j

    def lead_off(self, k0, k1):
        """True if an electrode was off for any EMG sample in [k0, k1)."""
        for a, b in self.lead_off_ranges:
            if a < k1 and b > k0:
                return True
        return False

    # ---- housekeeping
    def battery_mv(self):
        return self.battery_mv_at(self.node_us())

    def battery_mv_at(self, node_us):
        """Battery at a node time: status frames ask at their own sample time (deterministic)."""
        hours = node_us / 3.6e9
        mv = int(self._mv0 - self._mv_per_h * hours)
        return mv if mv > 0 else 0

    def identify(self, seconds):
        self.identify_until_us = self.node_us() + seconds * 1000000
        print("node: identify for %d s (LED would blink)" % seconds)

    def idle(self, node_ms):
        """Sleep about node_ms of node time (scaled by the world's speed)."""
        ms = int(node_ms / self.speed)
        time.sleep_ms(ms if ms > 0 else 1)

    def reset(self):
        """Reboot: on the unix port the firmware restarts its state in-process."""
        return False
