"""A tiny myostride-like peripheral for the radio tests (runs under `micropython`).

Why: it exercises the `bluetooth` emulation and the air exactly as firmware
does (advertise, GATT table, notify with ENOMEM back-off, control writes,
readable REPLY) but is small enough that a radio test failure is the
radio's fault. It streams the node directory's emg.i16 as EMG frames sized
to the negotiated MTU, paced by global simulation time, after C_START.
"""

import json
import os
import struct
import time

import bluetooth
from micropython import const
from myowire import codec, gatt

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_FLAG_READ = const(0x0002)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)
_ENOMEM = const(12)

node = json.load(open(os.getenv("MYOSTRIDE_SIM_NODE")))
world = json.load(open(node["world"]))
NODE_ID = node["node_id"]
EMG_HZ = node["emg_hz"]
emg = open(node["fw_dir"] + "/../emg.i16", "rb")
EPOCH = world["epoch_ns"]
SPEED = world["speed"]

ble = bluetooth.BLE()
ble.active(True)
ble.config(gap_name=gatt.node_name(NODE_ID), mtu=247)
SVC = (
    bluetooth.UUID(gatt.SERVICE_UUID),
    (
        (bluetooth.UUID(gatt.DATA_UUID), _FLAG_NOTIFY),
        (bluetooth.UUID(gatt.CONTROL_UUID), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE),
        (bluetooth.UUID(gatt.REPLY_UUID), _FLAG_NOTIFY | _FLAG_READ),
    ),
)
((H_DATA, H_CONTROL, H_REPLY),) = ble.gatts_register_services((SVC,))
ble.gatts_set_buffer(H_CONTROL, 128)

state = {"conn": None, "mtu": 23, "streaming": False, "k": 0, "seq": 0, "pending": None, "enomem": 0, "g0": 0.0, "replies": []}


def global_s():
    return (time.time_ns() - EPOCH) * SPEED / 1e9


def node_us():
    return int(global_s() * 1e6)


def advertise():
    ble.gap_advertise(100000, gatt.advertising_payload(NODE_ID, (0, 1, 0), 90), resp_data=gatt.scan_response_payload())


def on_command(frame):
    t2 = node_us()
    try:
        cmd = codec.decode_frame(frame)
    except codec.WireError as e:
        print("bad command:", e)
        return
    op = cmd["opcode"]
    if op == codec.C_START:
        state["streaming"] = True
        state["g0"] = global_s()
        state["k"] = 0
        reply = codec.encode_ack(NODE_ID, cmd["seq"], t2, op, codec.ACK_OK)
    elif op == codec.C_STOP:
        state["streaming"] = False
        reply = codec.encode_ack(NODE_ID, cmd["seq"], t2, op, codec.ACK_OK)
    elif op == codec.C_SYNC:
        reply = codec.encode_sync_reply(NODE_ID, cmd["seq"], cmd["t0_us"], t2, node_us())
    else:
        reply = codec.encode_ack(NODE_ID, cmd["seq"], t2, op, codec.ACK_UNKNOWN)
    ble.gatts_write(H_REPLY, reply)
    state["replies"].append(reply)


def irq(event, data):
    if event == _IRQ_CENTRAL_CONNECT:
        state["mtu"] = 0  # stream only after the MTU exchange: until then notifications are cut to 20 bytes
        state["conn"] = data[0]
    elif event == _IRQ_CENTRAL_DISCONNECT:
        state["conn"] = None  # a pending frame stays pending: it goes out on the next link
        state["replies"] = []
        advertise()
    elif event == _IRQ_MTU_EXCHANGED:
        state["mtu"] = data[1]
    elif event == _IRQ_GATTS_WRITE and data[1] == H_CONTROL:
        on_command(ble.gatts_read(H_CONTROL))


ble.irq(irq)
advertise()
buf = bytearray(2 * 255)


def next_frame():
    per = codec.emg_samples_per_frame(state["mtu"] - 3)
    avail = int((global_s() - state["g0"]) * EMG_HZ) - state["k"]
    if avail < per:
        return None
    k0 = state["k"]
    emg.seek(2 * k0)
    mv = memoryview(buf)[: 2 * per]
    if emg.readinto(mv) < 2 * per:
        state["streaming"] = False
        return None
    samples = struct.unpack("<%dh" % per, mv)
    f = codec.encode_emg(NODE_ID, state["seq"], int(k0 * 1000000 // EMG_HZ), samples)
    state["k"] = k0 + per
    state["seq"] += 1
    return f


def send(conn, handle, data):
    try:
        ble.gatts_notify(conn, handle, data)
        return True
    except OSError as e:
        if e.errno != _ENOMEM:
            raise
        state["enomem"] += 1
        return False


while True:
    conn = state["conn"]
    if conn is not None and state["mtu"]:
        while state["replies"]:
            if not send(conn, H_REPLY, state["replies"][0]):
                break
            state["replies"].pop(0)
        while state["streaming"]:
            if state["pending"] is None:
                state["pending"] = next_frame()
                if state["pending"] is None:
                    break
            if not send(conn, H_DATA, state["pending"]):
                break
            state["pending"] = None
    time.sleep_ms(2)
