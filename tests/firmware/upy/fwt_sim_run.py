"""Run the real node on the simulated board (MYOSTRIDE_SIM_NODE) with the fake stack.

usage: micropython fwt_sim_run.py SECONDS_REAL MTU OUT
Connects, starts streaming, runs the node loop as main.py does, stops, and
writes every DATA notification (u16 length + bytes) to OUT; prints the first
EMG sample index the filter saw.
"""

import struct
import sys
import time

import bluetooth
from myowire import codec

import board
from node import Node


def main(seconds, mtu, out):
    nd = Node(board.load(), bluetooth)
    ble = bluetooth.BLE.last
    print("k_first", nd.k0, "j_first", nd.j0)
    ble.central_connect()
    ble.exchange_mtu(mtu)
    nid = nd.cfg["node_id"]
    ble.central_write(nd.radio.h_control, codec.encode_command(nid, 1, 0, codec.C_START))
    t = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t) < int(seconds * 1000):
        nd.step()
        nd.board.idle(10)
    ble.central_write(nd.radio.h_control, codec.encode_command(nid, 2, 0, codec.C_STOP))
    for _ in range(50):
        nd.step()
    with open(out, "wb") as f:
        for n in ble.take_notes(nd.radio.h_data):
            f.write(struct.pack("<H", len(n)))
            f.write(n)
    print("overrun", nd.overrun_samples, "enomem", nd.radio.enomem)


main(float(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
