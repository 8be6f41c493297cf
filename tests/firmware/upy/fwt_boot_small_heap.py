"""Boot as main.py does (startup.make) and stream a few seconds; run with -X heapsize=256k."""

import gc
import time

import bluetooth
from myowire import codec

import startup

n = startup.make(bluetooth)
ble = bluetooth.BLE.last
ble.central_connect()
ble.exchange_mtu(23)
sent = [0]


def count_only(conn, handle, data=None):
    sent[0] += 1


ble.gatts_notify = count_only
ble.central_write(n.radio.h_control, codec.encode_command(n.cfg["node_id"], 1, 0, codec.C_START))
t = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t) < 1500:
    n.step()
    n.board.idle(10)
gc.collect()
print("booted", "store_kb", n.store.capacity // 1024, "frames", n.store.next_seq, "notes", sent[0], "free", gc.mem_free())
