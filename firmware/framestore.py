"""The node's memory of sent data frames, for resends after radio loss.

All data frames (EMG, IMU, FOOT, STATUS) are written here first, in sequence
order, and the radio sends them from here; so this store is both the transmit
queue and the resend buffer. One preallocated byte area holds frames back to
back (wrapping to the start when a frame does not fit the tail); the oldest
frames are evicted as space is needed, so the store always holds the most
recent seconds. Seq numbers are assigned here (one counter per node).
"""


class FrameStore:
    def __init__(self, capacity_bytes, max_frames):
        self.capacity = capacity_bytes
        self.data = bytearray(capacity_bytes)
        self.slots = max_frames
        self._off = [0] * max_frames
        self._len = [0] * max_frames
        self._head = 0  # slot of the oldest frame
        self._count = 0
        self._wpos = 0  # byte just after the newest frame
        self.next_seq = 0  # seq the next committed frame gets
        self.evicted = 0
        self.found_len = 0  # length of the frame the last locate() found

    def oldest_seq(self):
        """Seq of the oldest frame held (== next_seq when empty)."""
        return self.next_seq - self._count

    def count(self):
        return self._count

    def begin(self, length):
        """Reserve `length` bytes for the next frame; returns its byte offset."""
        if length > self.capacity:
            raise ValueError("frame of %d bytes exceeds the store" % length)
        if self._count == 0:
            self._wpos = 0
        start = self._wpos
        pos = (start + 1) & ~1  # keep int16 payloads aligned
        wrap = pos + length > self.capacity
        if wrap:
            pos = 0
        end = pos + length
        while self._count:
            if self._count < self.slots:
                o = self._off[self._head]
                if wrap:
                    if not (o >= start or o < end):
                        break
                elif not (start <= o < end):
                    break
            self._head = (self._head + 1) % self.slots
            self._count -= 1
            self.evicted += 1
        self._pending = pos
        return pos

    def commit(self, length):
        """The frame reserved by begin() is written: store it; returns its seq."""
        slot = (self._head + self._count) % self.slots
        self._off[slot] = self._pending
        self._len[slot] = length
        self._count += 1
        self._wpos = self._pending + length
        seq = self.next_seq
        self.next_seq = seq + 1
        return seq

    def locate(self, seq):
        """Byte offset of frame `seq` (and its length in found_len), or -1 if not held."""
        i = seq - (self.next_seq - self._count)
        if i < 0 or i >= self._count:
            return -1
        slot = (self._head + i) % self.slots
        self.found_len = self._len[slot]
        return self._off[slot]

    def seconds_held(self, bytes_per_s):
        """How many seconds of traffic at bytes_per_s this store holds."""
        return self.capacity / bytes_per_s
