"""Missing-sequence tracking and resend planning for one node's data stream.

Every data frame (EMG, IMU, FOOT, STATUS) of a node carries the next number
of one per-node counter, so a hole in the numbers is a lost frame. The
tracker remembers each hole, the planner turns holes into C_RESEND ranges
(after a short grace period for late notifications, retried a few times),
and a hole becomes an explicit gap only when the node says it no longer
holds the frames (ACK_GONE) or never answers after every retry.
"""


class MissingSeq:
    __slots__ = ("detected_s", "requested_s", "attempts")

    def __init__(self, detected_s):
        self.detected_s = detected_s
        self.requested_s = None
        self.attempts = 0


class SeqTracker:
    """Holes in one node's data sequence numbers, with resend bookkeeping.

    grace_s: wait this long after a hole appears before asking (reordering);
    retry_s: ask again if the frames have not arrived this long after a request,
      doubling per attempt up to 4 x retry_s (a node serves its live backlog,
      e.g. after a reconnect, before resend ranges: it may be slow, not gone);
    max_attempts: after that many unanswered requests the frames are declared lost;
    max_range: longest C_RESEND range in frames.
    """

    def __init__(self, grace_s=0.05, retry_s=1.0, max_attempts=30, max_range=64):
        self.grace_s = grace_s
        self.retry_s = retry_s
        self.max_attempts = max_attempts
        self.max_range = max_range
        self.first_seq = None
        self.next_seq = None  # one past the highest seq seen
        self.missing = {}  # seq -> MissingSeq
        self.received = 0
        self.recovered = 0
        self.duplicates = 0
        self.gone = []  # [(first, last, reason)] closed ranges, in order of decision

    def expect_from(self, seq, now_s):
        """The node said its stream starts at seq (e.g. in the START ack)."""
        if self.next_seq is None:
            self.first_seq = seq
            self.next_seq = seq
        elif seq < self.first_seq:
            self._add_missing(seq, self.first_seq, now_s)
            self.first_seq = seq

    def expect_until(self, next_seq, now_s):
        """The node said it has sent everything below next_seq (e.g. its STOP ack or status)."""
        if self.next_seq is None:
            self.first_seq = next_seq
            self.next_seq = next_seq
            return
        if next_seq > self.next_seq:
            self._add_missing(self.next_seq, next_seq, now_s)
            self.next_seq = next_seq

    def add(self, seq, now_s):
        """Record a received frame; returns 'new', 'recovered' or 'duplicate'."""
        if self.next_seq is None:
            self.first_seq = seq
            self.next_seq = seq + 1
            self.received += 1
            return "new"
        if seq >= self.next_seq:
            if seq > self.next_seq:
                self._add_missing(self.next_seq, seq, now_s)
            self.next_seq = seq + 1
            self.received += 1
            return "new"
        if seq in self.missing:
            del self.missing[seq]
            self.received += 1
            self.recovered += 1
            return "recovered"
        if seq < self.first_seq:
            # Older than anything expected: a frame from before the stream start we were told about.
            self._add_missing(seq + 1, self.first_seq, now_s)
            self.first_seq = seq
            self.received += 1
            return "new"
        self.duplicates += 1
        return "duplicate"

    def _add_missing(self, first, end, now_s):
        for s in range(first, end):
            if s not in self.missing:
                self.missing[s] = MissingSeq(now_s)

    def plan(self, now_s):
        """Ranges (first, last) to request now; marks them requested.

        Holes past max_attempts are declared lost (reason 'no_answer') here.
        """
        due = []
        lost = []
        for s in sorted(self.missing):
            m = self.missing[s]
            if m.requested_s is None:
                if now_s - m.detected_s >= self.grace_s:
                    due.append(s)
            elif now_s - m.requested_s >= self.retry_s * min(1 << max(m.attempts - 1, 0), 4):
                if m.attempts >= self.max_attempts:
                    lost.append(s)
                else:
                    due.append(s)
        for first, last in ranges_of(lost):
            self.mark_gone(first, last, "no_answer")
        out = []
        for first, last in ranges_of(due):
            s = first
            while s <= last:
                e = min(last, s + self.max_range - 1)
                out.append((s, e))
                s = e + 1
        for first, last in out:
            for s in range(first, last + 1):
                m = self.missing[s]
                m.requested_s = now_s
                m.attempts += 1
        return out

    def rush(self, now_s):
        """Make every missing frame due now (e.g. once the node stopped streaming live)."""
        for m in self.missing.values():
            if m.requested_s is not None:
                m.requested_s = now_s - self.retry_s * 4
            else:
                m.detected_s = now_s - self.grace_s

    def defer(self, first, last, now_s, after_s=0.2):
        """The node was busy: that request does not count; ask again after_s from now."""
        for s in range(first, last + 1):
            m = self.missing.get(s)
            if m is not None and m.attempts > 0:
                m.attempts -= 1
                m.requested_s = now_s - self.retry_s + after_s

    def mark_gone(self, first, last, reason="gone"):
        """The node no longer holds first..last: whatever is still missing there is a gap."""
        still = [s for s in range(first, last + 1) if s in self.missing]
        for s in still:
            del self.missing[s]
        for a, b in ranges_of(still):
            self.gone.append((a, b, reason))
        return len(still)

    def pending(self):
        return len(self.missing)

    def expected(self):
        if self.next_seq is None:
            return 0
        return self.next_seq - self.first_seq

    def lost(self):
        return sum(b - a + 1 for a, b, _r in self.gone)

    def summary(self):
        return {
            "first_seq": self.first_seq,
            "next_seq": self.next_seq,
            "frames_expected": self.expected(),
            "frames_received": self.received,
            "frames_recovered": self.recovered,
            "frames_missing": self.pending() + self.lost(),
            "duplicates": self.duplicates,
            "gone_ranges": [[a, b, r] for a, b, r in self.gone],
        }


def ranges_of(seqs):
    """Sorted ints -> [(first, last)] runs of consecutive values."""
    out = []
    start = prev = None
    for s in seqs:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append((start, prev))
            start = prev = s
    if start is not None:
        out.append((start, prev))
    return out
