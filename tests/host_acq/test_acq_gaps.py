from myostride.acquire.gaps import SeqTracker, ranges_of


def test_ranges_of():
    assert ranges_of([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]
    assert ranges_of([]) == []


def test_hole_requested_after_grace_then_recovered():
    t = SeqTracker(grace_s=0.1, retry_s=1.0)
    for s in (0, 1, 2, 6, 7):
        t.add(s, 0.0)
    assert t.pending() == 3
    assert t.plan(0.05) == []  # still within grace
    assert t.plan(0.2) == [(3, 5)]
    assert t.plan(0.3) == []  # requested, not yet due for retry
    assert t.add(4, 0.4) == "recovered"
    assert t.add(4, 0.41) == "duplicate"
    assert t.plan(1.3) == [(3, 3), (5, 5)]
    assert t.plan(2.4) == []  # backoff: the next retry after 2 s
    t.add(3, 1.4)
    t.add(5, 1.4)
    s = t.summary()
    assert s["frames_expected"] == 8 and s["frames_received"] == 8 and s["frames_recovered"] == 3 and s["frames_missing"] == 0


def test_gone_and_no_answer_become_explicit_gaps():
    t = SeqTracker(grace_s=0.0, retry_s=0.5, max_attempts=2)
    for s in (10, 20):
        t.add(s, 0.0)
    assert t.plan(0.0) == [(11, 19)]
    t.add(12, 0.1)
    assert t.mark_gone(11, 15, "gone") == 4  # 12 arrived, 11 and 13-15 are gone
    assert t.plan(0.6) == [(16, 19)]
    assert t.plan(1.2) == []  # second retry waits twice as long
    assert t.plan(1.7) == []  # attempts exhausted (2): declared lost
    assert t.gone == [(11, 11, "gone"), (13, 15, "gone"), (16, 19, "no_answer")]
    assert t.pending() == 0 and t.lost() == 8


def test_long_holes_split_into_bounded_ranges_and_tail_from_stop():
    t = SeqTracker(grace_s=0.0, max_range=10)
    t.add(0, 0.0)
    t.expect_until(25, 0.0)  # the node says it sent 0..24
    assert t.plan(0.0) == [(1, 10), (11, 20), (21, 24)]


def test_start_seq_from_ack_catches_lost_first_frames():
    t = SeqTracker(grace_s=0.0)
    t.expect_from(100, 0.0)
    t.add(103, 0.0)
    assert t.plan(0.0) == [(100, 102)]


def test_busy_node_does_not_use_up_attempts():
    t = SeqTracker(grace_s=0.0, retry_s=1.0, max_attempts=1)
    t.add(0, 0.0)
    t.add(3, 0.0)
    assert t.plan(0.0) == [(1, 2)]
    t.defer(1, 2, 0.1, after_s=0.2)
    assert t.plan(0.2) == []
    assert t.plan(0.31) == [(1, 2)]  # asked again, still counted as the first attempt
    assert t.gone == []


def test_rush_makes_every_hole_due_now():
    t = SeqTracker(grace_s=0.5, retry_s=1.0)
    t.add(0, 0.0)
    t.add(5, 0.0)
    assert t.plan(0.6) == [(1, 4)]
    t.add(9, 0.7)
    assert t.plan(0.8) == []
    t.rush(0.8)
    assert t.plan(0.8) == [(1, 4), (6, 8)]
