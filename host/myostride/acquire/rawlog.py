"""Crash-safe, append-only raw session log (`raw.log`).

Everything the recorder learns goes here first, as it arrives: wire frames
exactly as received (after fragment reassembly), time-sync exchanges, and
events (session start with the channel map, connects, disconnects, resend
answers, stop). session.json and the loaded session are both derived from
this file, so it alone can rebuild a session.

File: 8-byte magic, then records
    u32 body_len | body: u8 kind, u8 node_id, u64 recv_host_us, payload | u32 crc32(body)
little-endian. Each record is written with one os.write() (a killed process
loses nothing it already wrote) and the file is fsync'ed every `fsync_s`
seconds (a power cut loses about that much; the recorder fsyncs from a
worker thread so a slow disk never stalls reception). A reader stops
trusting the file at the first record that is truncated or fails its CRC,
resynchronises on the next valid record if there is one, and reports every
byte it skipped.
"""

import fcntl
import json
import os
import struct
import threading
import time
import zlib

MAGIC = b"MYORAW1\n"
K_DATA = 1  # frame from the DATA characteristic
K_REPLY = 2  # frame from the REPLY characteristic (sync replies, acks)
K_SYNC = 3  # time-sync exchange: <qqqq t1, t2, t3, t4
K_EVENT = 4  # JSON object with at least "event"
K_SENT = 5  # command frame the host wrote to CONTROL
KIND_NAMES = {K_DATA: "data", K_REPLY: "reply", K_SYNC: "sync", K_EVENT: "event", K_SENT: "sent"}

_LEN = struct.Struct("<I")
_HEAD = struct.Struct("<BBQ")
_SYNC = struct.Struct("<qqqq")
MAX_BODY = 65536
LOG_NAME = "raw.log"


class RawLogWriter:
    """Appends records; holds an exclusive flock so readers can tell a live recorder from a dead one."""

    def __init__(self, path, fsync_s=0.5, clock_us=None):
        self.path = str(path)
        new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise RuntimeError("%s is being written by another recorder" % self.path)
        if new:
            os.write(self.fd, MAGIC)
        self.fsync_s = fsync_s
        # True: append() fsyncs when due. The recorder sets False and fsyncs from a
        # worker thread (an fsync can stall for seconds on a busy disk; the event
        # loop must keep receiving meanwhile).
        self.sync_in_caller = True
        self.last_sync = time.monotonic()
        self.records = 0
        self.bytes = 0
        self.size = os.lseek(self.fd, 0, os.SEEK_END)  # end of the last whole record
        self.dirty = False
        # The first write error (disk full, file too large, I/O error): from then on nothing is
        # written and the recorder ends the session; what is on disk stays whole (see append).
        self.error = None
        self._lock = threading.Lock()  # sync() runs in a worker thread; close() must not race it

    def append(self, kind, node_id, recv_us, payload):
        if self.error is not None or self.fd is None:
            return
        body = _HEAD.pack(kind, node_id & 0xFF, int(recv_us) & 0xFFFFFFFFFFFFFFFF) + bytes(payload)
        if len(body) > MAX_BODY:
            raise ValueError("raw log record of %d bytes exceeds %d" % (len(body), MAX_BODY))
        rec = _LEN.pack(len(body)) + body + _LEN.pack(zlib.crc32(body))
        try:
            n = os.write(self.fd, rec)
            if n != len(rec):
                raise OSError(28, "short write (%d of %d bytes): the disk is probably full" % (n, len(rec)))
        except OSError as exc:
            self._failed(exc)
            return
        self.size += len(rec)
        self.records += 1
        self.bytes += len(rec)
        self.dirty = True
        if self.sync_in_caller:
            self.maybe_sync()

    def _failed(self, exc):
        """Keep the file whole: cut a partly written record off, remember the error."""
        self.error = exc
        try:
            os.ftruncate(self.fd, self.size)
        except OSError:
            pass  # the reader ignores a torn tail and reports it

    def sync_exchange(self, node_id, recv_us, t1, t2, t3, t4):
        self.append(K_SYNC, node_id, recv_us, _SYNC.pack(int(t1), int(t2), int(t3), int(t4)))

    def event(self, recv_us, event, node_id=0, **fields):
        fields["event"] = event
        self.append(K_EVENT, node_id, recv_us, json.dumps(fields, sort_keys=True).encode())

    def maybe_sync(self):
        if self.dirty and time.monotonic() - self.last_sync >= self.fsync_s:
            self.sync()

    def sync(self):
        with self._lock:
            self.dirty = False
            fd = self.fd
            if fd is not None:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    if self.error is None:
                        self.error = exc
            self.last_sync = time.monotonic()

    def close(self):
        if self.fd is None:
            return
        self.sync()
        with self._lock:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def is_being_written(path):
    """True while a live recorder holds the log's lock."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


class LogReport:
    """What a read found: record count, trusted bytes, skipped ranges, truncated tail."""

    def __init__(self):
        self.records = 0
        self.size = 0
        self.skipped = []  # [(offset, nbytes, reason)] inside the file
        self.tail_ignored = 0  # bytes at the end that do not form a whole valid record
        self.tail_reason = ""

    def to_json(self):
        return {
            "records": self.records,
            "bytes": self.size,
            "skipped": [[o, n, r] for o, n, r in self.skipped],
            "tail_ignored_bytes": self.tail_ignored,
            "tail_reason": self.tail_reason,
        }


def read_log(path):
    """(records, LogReport): records are (kind, node_id, recv_us, payload memoryview) in file order."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_log(data)


def parse_log(data):
    rep = LogReport()
    rep.size = len(data)
    if not data.startswith(MAGIC):
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            rep.tail_ignored = len(data)
            rep.tail_reason = "file shorter than its header"
            return [], rep
        raise ValueError("not a myostride raw log (bad magic); expected a file written by `myostride record`")
    mv = memoryview(data)
    out = []
    pos = len(MAGIC)
    n = len(data)
    unpack_len = _LEN.unpack_from
    unpack_head = _HEAD.unpack_from
    while pos < n:
        bad = _check_at(data, pos, n)
        if bad is None:
            ln = unpack_len(data, pos)[0]
            kind, node, t_us = unpack_head(data, pos + 4)
            out.append((kind, node, t_us, mv[pos + 4 + _HEAD.size : pos + 4 + ln]))
            pos += 8 + ln
            continue
        nxt = _resync(data, pos + 1, n)
        if nxt is None:
            rep.tail_ignored = n - pos
            rep.tail_reason = bad
            break
        rep.skipped.append((pos, nxt - pos, bad))
        pos = nxt
    rep.records = len(out)
    return out, rep


def _check_at(data, pos, n):
    """None if a valid record starts at pos, else the reason it does not."""
    if pos + 4 > n:
        return "truncated record length"
    ln = _LEN.unpack_from(data, pos)[0]
    if ln < _HEAD.size or ln > MAX_BODY:
        return "implausible record length %d" % ln
    if pos + 8 + ln > n:
        return "truncated record (%d of %d bytes)" % (n - pos, 8 + ln)
    body = memoryview(data)[pos + 4 : pos + 4 + ln]
    if zlib.crc32(body) != _LEN.unpack_from(data, pos + 4 + ln)[0]:
        return "record CRC mismatch"
    if data[pos + 4] not in KIND_NAMES:
        return "unknown record kind %d" % data[pos + 4]
    return None


def _resync(data, start, n):
    for p in range(start, n - 8):
        if _check_at(data, p, n) is None:
            return p
    return None


def unpack_sync(payload):
    return _SYNC.unpack_from(payload, 0)


def unpack_event(payload):
    return json.loads(bytes(payload).decode())
