"""The node's memory of sent data frames, for resends after radio loss.

All data frames (EMG, IMU, FOOT, STATUS) are written here first, in sequence
order, and the radio sends them from here; so this store is both the transmit
queue and the resend buffer. Frames lie back to back in fixed-size pages
(several small buffers rather than one large one, so a fragmented MCU heap can
still hold it); a frame that does not fit the rest of a page starts the next
page, and after the last page the store wraps to the first. The oldest frames
are evicted as space is needed, so the store always holds the most recent
seconds. Seq numbers are assigned here (one counter per node).
"""

from array import array

import micropython

from myowire import codec

PAGE_BYTES = 2048  # small pages: they still fit in a heap fragmented by compiling modules
STORE_SECONDS = 12  # >= 10 s of resend history at the board's highest rates


@micropython.viper
def copy_bytes(src, soff: int, dst, doff: int, n: int):
    """dst[doff:doff+n] = src[soff:soff+n] without allocating (frames into and out of the store)."""
    p = ptr8(src)
    q = ptr8(dst)
    i = 0
    while i < n:
        q[doff + i] = p[soff + i]
        i += 1


def budget(emg_hz, imu_hz):
    """(bytes/s, frames/s) of data frames at the least favourable MTU (23-247), status and
    footswitch included: what the store must hold per second of history."""
    worst_b = 0
    worst_f = 0
    for mtu in range(23, 248):
        n = codec.emg_samples_for_mtu(mtu)
        by = emg_hz * (2 * n + codec.OVERHEAD) // n + 1
        fr = emg_hz // n + 1
        if imu_hz:
            m = codec.emg_samples_for_mtu(mtu, 6)  # IMU records are 6 int16 channels
            by += imu_hz * (12 * m + codec.OVERHEAD) // m + 1
            fr += imu_hz // m + 1
        if by > worst_b:
            worst_b = by
        if fr > worst_f:
            worst_f = fr
    return worst_b + 64 + 4 * 32, worst_f + 1 + 4


def for_board(board, seconds=STORE_SECONDS):
    """A store holding `seconds` of traffic at the board's highest EMG and IMU rates."""
    emg_hz = max(board.emg_rates)
    imu_hz = max(board.imu_rates) if board.imu_rates else 0
    bytes_per_s, frames_per_s = budget(emg_hz, imu_hz)
    return FrameStore(bytes_per_s * seconds, frames_per_s * seconds)


class FrameStore:
    def __init__(self, capacity_bytes, max_frames, page_bytes=PAGE_BYTES):
        npages = (capacity_bytes + page_bytes - 1) // page_bytes
        if npages < 2:
            npages = 2
        self.page_bytes = page_bytes
        self.capacity = npages * page_bytes
        self.pages = [bytearray(page_bytes) for _ in range(npages)]
        self.views = [memoryview(p) for p in self.pages]
        self.slots = max_frames
        # MicroPython builds an array from a buffer's raw bytes: zeroed, no temporary list
        self._addr = array("I", bytearray(4 * max_frames))
        self._len = array("H", bytearray(2 * max_frames))
        self._head = 0  # slot of the oldest frame
        self._count = 0
        self._wpos = 0  # address just after the newest frame
        self._pending = 0
        self.next_seq = 0  # seq the next committed frame gets
        self.evicted = 0
        self.wbuf = self.pages[0]  # page of the frame being written (after begin)
        self.found_buf = None  # page, offset-in-page and length of the last locate()
        self.found_view = None
        self.found_len = 0

    def reset(self):
        """Forget every frame and restart seq at 0 (what a reboot does to RAM)."""
        self._head = 0
        self._count = 0
        self._wpos = 0
        self.next_seq = 0

    def oldest_seq(self):
        """Seq of the oldest frame held (== next_seq when empty)."""
        return self.next_seq - self._count

    def count(self):
        return self._count

    def begin(self, length):
        """Reserve `length` bytes for the next frame; returns its offset in self.wbuf."""
        pb = self.page_bytes
        if length > pb:
            raise ValueError("frame of %d bytes exceeds a store page" % length)
        if self._count == 0:
            self._wpos = 0
        start = self._wpos
        pos = (start + 1) & ~1  # keep int16 payloads aligned
        wrap = False
        if pos % pb + length > pb or pos >= self.capacity:
            pos = (pos // pb + 1) * pb
            if pos >= self.capacity:
                pos = 0
                wrap = True
        end = pos + length
        while self._count:
            if self._count < self.slots:
                a = self._addr[self._head]
                if wrap:
                    if not (a >= start or a < end):
                        break
                elif not (start <= a < end):
                    break
            self._head = (self._head + 1) % self.slots
            self._count -= 1
            self.evicted += 1
        self._pending = pos
        self.wbuf = self.pages[pos // pb]
        return pos % pb

    def commit(self, length):
        """The frame reserved by begin() is written: store it; returns its seq."""
        slot = (self._head + self._count) % self.slots
        self._addr[slot] = self._pending
        self._len[slot] = length
        self._count += 1
        self._wpos = self._pending + length
        seq = self.next_seq
        self.next_seq = seq + 1
        return seq

    def locate(self, seq):
        """Offset of frame `seq` in found_buf / found_view (length in found_len), or -1."""
        i = seq - (self.next_seq - self._count)
        if i < 0 or i >= self._count:
            return -1
        slot = (self._head + i) % self.slots
        a = self._addr[slot]
        p = a // self.page_bytes
        self.found_buf = self.pages[p]
        self.found_view = self.views[p]
        self.found_len = self._len[slot]
        return a - p * self.page_bytes

    def frame(self, seq):
        """A copy of frame `seq` as bytes, or None (allocates: tests and status reads)."""
        off = self.locate(seq)
        if off < 0:
            return None
        return bytes(self.found_view[off : off + self.found_len])
