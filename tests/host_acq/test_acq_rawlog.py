import os

import pytest

from myostride.acquire import rawlog


def _write(path, n=50):
    w = rawlog.RawLogWriter(path)
    for i in range(n):
        w.append(rawlog.K_DATA, i % 3 + 1, 1000 + i, bytes([i % 256]) * (10 + i))
    w.event(5000, "session_end", status="complete")
    w.close()


def test_roundtrip_records(tmp_path):
    p = tmp_path / "raw.log"
    _write(p)
    recs, rep = rawlog.read_log(p)
    assert len(recs) == 51 and rep.tail_ignored == 0 and rep.skipped == []
    kind, node, t, payload = recs[7]
    assert (kind, node, t, bytes(payload)) == (rawlog.K_DATA, 2, 1007, bytes([7]) * 17)
    assert rawlog.unpack_event(recs[-1][3]) == {"event": "session_end", "status": "complete"}


@pytest.mark.parametrize("cut", [1, 5, 9, 30])
def test_truncated_tail_is_ignored_and_reported(tmp_path, cut):
    p = tmp_path / "raw.log"
    _write(p)
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(size - cut)
    recs, rep = rawlog.read_log(p)
    assert len(recs) == 50  # the last record (the event) is gone, all others intact
    assert rep.tail_ignored > 0 and "truncated" in rep.tail_reason
    assert os.path.getsize(p) == size - cut  # the reader never alters the file


def test_corrupt_middle_record_skipped_and_resynchronised(tmp_path):
    p = tmp_path / "raw.log"
    _write(p)
    data = bytearray(p.read_bytes())
    data[len(rawlog.MAGIC) + 4 + 12] ^= 0xFF  # payload byte of record 0
    p.write_bytes(bytes(data))
    recs, rep = rawlog.read_log(p)
    assert len(recs) == 50
    assert rep.skipped and rep.skipped[0][2] == "record CRC mismatch"
    assert recs[0][2] == 1001


def test_lock_tells_live_writer_from_dead(tmp_path):
    p = tmp_path / "raw.log"
    w = rawlog.RawLogWriter(p)
    assert rawlog.is_being_written(p)
    with pytest.raises(RuntimeError, match="another recorder"):
        rawlog.RawLogWriter(p)
    w.close()
    assert not rawlog.is_being_written(p)


def test_not_a_log(tmp_path):
    p = tmp_path / "raw.log"
    p.write_bytes(b"hello world, not a log")
    with pytest.raises(ValueError, match="bad magic"):
        rawlog.read_log(p)
