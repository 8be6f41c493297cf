"""Peripheral that lets host-side tests poke the `bluetooth` emulation (runs under `micropython`).

Commands (ASCII, written to CONTROL); answers go to REPLY (written + notified):
  big:N    notify N bytes on DATA (the stack cuts to MTU-3)
  flood:N  notify N 4-byte counters on DATA as fast as possible; the first
           ENOMEM is reported as "flood first_enomem=K", the rest are sent
           with back-off, then "flood done sent=N"
  stats    "stats conns=C discs=D mtu=M"
  now      notify REPLY at once with "now RX TX": global-time us when the write's
           IRQ ran and just before the notify (for the timing-model test)
  alloc    heap bytes allocated by 8 notifications from a preallocated buffer,
           best of 5 tries: "alloc bytes=B"
SMALL (write, default 20-byte buffer): a write answers "small len=L".
DENY (read): every read request is denied.
"""

import gc
import json
import os
import struct
import time

import bluetooth
from micropython import const
from myowire import gatt

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_GATTS_READ_REQUEST = const(4)
_IRQ_MTU_EXCHANGED = const(21)
_ENOMEM = const(12)

SMALL_UUID = "4d59f0a1-0a3e-4c6f-9d21-6d796f737472"
DENY_UUID = "4d59f0a2-0a3e-4c6f-9d21-6d796f737472"

_world = json.load(open(json.load(open(os.getenv("MYOSTRIDE_SIM_NODE")))["world"]))
EPOCH_NS = _world["epoch_ns"]
SPEED = int(_world["speed"])  # the timing test runs at an integer speed

ble = bluetooth.BLE()
ble.active(True)
ble.config(gap_name="probe", mtu=247)
svc = (
    bluetooth.UUID(gatt.SERVICE_UUID),
    (
        (bluetooth.UUID(gatt.DATA_UUID), 0x10),
        (bluetooth.UUID(gatt.CONTROL_UUID), 0x08 | 0x04),
        (bluetooth.UUID(gatt.REPLY_UUID), 0x10 | 0x02),
        (bluetooth.UUID(SMALL_UUID), 0x08),
        (bluetooth.UUID(DENY_UUID), 0x02),
    ),
)
((H_DATA, H_CONTROL, H_REPLY, H_SMALL, H_DENY),) = ble.gatts_register_services((svc,))
ble.gatts_set_buffer(H_CONTROL, 100)
ble.gatts_write(H_DENY, b"secret")
st = {"conn": None, "mtu": 23, "conns": 0, "discs": 0, "flood_left": 0, "flood_i": 0, "replies": []}


def advertise():
    ble.gap_advertise(50000, b"\x02\x01\x06\x06\x09probe", resp_data=gatt.scan_response_payload())


def reply(text):
    ble.gatts_write(H_REPLY, text.encode())
    st["replies"].append(text.encode())


def notify(h, data):
    try:
        ble.gatts_notify(st["conn"], h, data)
        return True
    except OSError as e:
        if e.errno != _ENOMEM:
            raise
        return False


def global_us():
    return (time.time_ns() - EPOCH_NS) * SPEED // 1000


def on_control(cmd):
    if cmd == b"now":
        rx = global_us()
        notify(H_REPLY, b"now %d %d" % (rx, global_us()))
    elif cmd.startswith(b"big:"):
        notify(H_DATA, bytes(i & 0xFF for i in range(int(cmd[4:]))))
    elif cmd.startswith(b"flood:"):
        n = int(cmd[6:])
        i = 0
        while i < n and notify(H_DATA, struct.pack("<I", i)):
            i += 1
        reply("flood first_enomem=%d" % i)
        st["flood_i"] = i
        st["flood_left"] = n - i
    elif cmd == b"alloc":
        buf = bytearray(200)
        best = 1 << 30
        for _ in range(5):
            while st["conn"] is not None and not notify(H_DATA, buf):  # wait for free buffers
                time.sleep_ms(1)
            gc.collect()
            a0 = gc.mem_alloc()
            for _ in range(8):
                if not notify(H_DATA, buf):
                    break
            used = gc.mem_alloc() - a0
            if used < best:
                best = used
        reply("alloc bytes=%d" % best)
    elif cmd == b"stats":
        reply("stats conns=%d discs=%d mtu=%d" % (st["conns"], st["discs"], st["mtu"]))


def irq(event, data):
    if event == _IRQ_CENTRAL_CONNECT:
        st["conn"] = data[0]
        st["conns"] += 1
    elif event == _IRQ_CENTRAL_DISCONNECT:
        st["conn"] = None
        st["discs"] += 1
        st["replies"] = []
        advertise()
    elif event == _IRQ_MTU_EXCHANGED:
        st["mtu"] = data[1]
    elif event == _IRQ_GATTS_WRITE:
        if data[1] == H_CONTROL:
            on_control(ble.gatts_read(H_CONTROL))
        elif data[1] == H_SMALL:
            reply("small len=%d" % len(ble.gatts_read(H_SMALL)))
    elif event == _IRQ_GATTS_READ_REQUEST:
        return 1 if data[1] == H_DENY else 0


ble.irq(irq)
advertise()
while True:
    if st["conn"] is not None:
        while st["replies"] and notify(H_REPLY, st["replies"][0]):
            st["replies"].pop(0)
        while st["flood_left"] and notify(H_DATA, struct.pack("<I", st["flood_i"])):
            st["flood_i"] += 1
            st["flood_left"] -= 1
            if not st["flood_left"]:
                reply("flood done sent=%d" % st["flood_i"])
    time.sleep_ms(1)
