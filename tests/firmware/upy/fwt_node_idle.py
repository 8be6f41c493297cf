"""Node.idle: while a link is up the unix port idles in short sleep_us slices (so a
scheduled write IRQ, the time-sync t2 stamp, is not held for the port's ~0.5 ms
sleep_ms polling); without a link, or on a port whose sleep_ms wakes for soft IRQs,
the board's own idle runs."""

import micropython
import time

import node
from board import Board
from fwt_helpers import eq


class _Radio:
    def __init__(self, up):
        self.up = up

    def connected(self):
        return self.up


class _Board(Board):
    def __init__(self, speed):
        self.speed = speed
        self.idled = []

    def idle(self, node_ms):
        self.idled.append(node_ms)


class _Stub:
    def __init__(self, up, speed=1.0):
        self.radio = _Radio(up)
        self.board = _Board(speed)


def test_linked_idle_slices_instead_of_board_idle():
    assert node.IDLE_SLICE_US > 0, "unix port: slicing expected"
    s = _Stub(True, speed=2.0)
    t = time.ticks_us()
    node.Node.idle(s)
    dt = time.ticks_diff(time.ticks_us(), t)
    eq(s.board.idled, [], "board idle not used while linked")
    # the wait is IDLE_NODE_MS of node time at the world's speed (5 ms wall here)
    assert dt >= node.IDLE_NODE_MS * 1000 // 2, dt


def test_scheduled_irq_runs_during_a_linked_idle():
    s = _Stub(True, speed=1.0)
    seen = []
    micropython.schedule(seen.append, 1)
    node.Node.idle(s)
    eq(seen, [1], "soft IRQ serviced while idling")


def test_unlinked_idle_is_the_board_idle():
    s = _Stub(False)
    node.Node.idle(s)
    eq(s.board.idled, [node.IDLE_NODE_MS], "board idle")


def test_other_ports_keep_the_board_idle():
    saved = node.IDLE_SLICE_US
    node.IDLE_SLICE_US = 0
    try:
        s = _Stub(True)
        node.Node.idle(s)
        eq(s.board.idled, [node.IDLE_NODE_MS], "board idle when sleep_ms is prompt")
    finally:
        node.IDLE_SLICE_US = saved
