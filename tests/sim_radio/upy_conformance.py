"""Scripted BLE peripheral for the emulation-vs-NimBLE conformance test (runs under MicroPython).

The same script runs on simulators/upy/bluetooth.py (virtual air) and on the NimBLE
unix port (Bumble controller). It records every IRQ (codes and data shapes, not
addresses or handles that legitimately differ), every call's return value or error,
and prints one JSON line "CONFORMANCE {...}" at the end. The central side
(test_sim_conformance.py) scans, connects asking MTU 247, subscribes, writes b"go",
waits for b"END" and disconnects.
"""

import json
import time

import bluetooth
from micropython import const

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_WAIT_MS = 20000

SVC = bluetooth.UUID("6d796f73-0000-4000-8000-00000000c0f0")
DATA = bluetooth.UUID("6d796f73-0001-4000-8000-00000000c0f0")
CTRL = bluetooth.UUID("6d796f73-0002-4000-8000-00000000c0f0")
REPLY = bluetooth.UUID("6d796f73-0003-4000-8000-00000000c0f0")

events = []
log = []


def shape(v):
    """Data as comparable across stacks: bytes -> their length, tuples -> lists, ints kept."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "bytes%d" % len(v)
    if isinstance(v, tuple):
        return [shape(x) for x in v]
    return v


def irq(ev, data):
    events.append([ev, shape(data)])
    if ev == _IRQ_GATTS_WRITE:
        return None
    return None


def call(name, f, *a, **kw):
    try:
        r = f(*a, **kw)
    except OSError as e:
        log.append([name, "OSError", e.args[0] if e.args else None])
        return None
    except Exception as e:  # the exception type is what a caller can rely on
        log.append([name, type(e).__name__, None])
        return None
    log.append([name, "ok", shape(r)])
    return r


def drain(label):
    """Record the IRQs seen since the last mark under a label (their order matters, not timing)."""
    got = events[:]
    del events[: len(got)]
    log.append([label, "irqs", got])


def wait_event(code):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < _WAIT_MS:
        for e in events:
            if e[0] == code:
                return e
        time.sleep_ms(5)
    return None


def adv_payload(name):
    n = name.encode()
    return bytes((2, 0x01, 0x06, len(n) + 1, 0x09)) + n


ble = bluetooth.BLE()
ble.irq(irq)
# Before active(True): what each call does on a stack that is not up yet.
call("inactive_notify", ble.gatts_notify, 0, 1, b"x")
call("inactive_adv", ble.gap_advertise, 100000, b"")
call("inactive_read", ble.gatts_read, 1)
call("inactive_write", ble.gatts_write, 1, b"a")
call("inactive_mac", ble.config, "mac")
call("inactive_mtu", ble.config, "mtu")
call("inactive_mtu_set", ble.config, mtu=247)
call("inactive_disconnect", ble.gap_disconnect, 0)
call("inactive_register", ble.gatts_register_services, ())
call("inactive_set_buffer", ble.gatts_set_buffer, 1, 10)
call("active", ble.active, True)
time.sleep_ms(300)
drain("after_active")
call("config_mtu_get", ble.config, "mtu")
call("config_mtu_set", ble.config, mtu=247)
call("config_mtu_get2", ble.config, "mtu")
call("config_rxbuf_get", ble.config, "rxbuf")
call("config_name_set", ble.config, gap_name="conf-01")
call("config_name_get", ble.config, "gap_name")
call("config_unknown", ble.config, "no_such_param")
svc = (SVC, ((DATA, 0x0010), (CTRL, 0x0008 | 0x0004), (REPLY, 0x0010 | 0x0002)))
handles = call("register", ble.gatts_register_services, (svc,))
h_data, h_ctrl, h_reply = handles[0]
call("set_buffer", ble.gatts_set_buffer, h_ctrl, 64)
call("write_local", ble.gatts_write, h_reply, b"hello")
call("read_local", ble.gatts_read, h_reply)
call("read_bad_handle", ble.gatts_read, 999)
call("write_bad_handle", ble.gatts_write, 999, b"abc")
call("set_buffer_bad_handle", ble.gatts_set_buffer, 999, 10)
call("mac", ble.config, "mac")
call("rxbuf_set", ble.config, rxbuf=200)
call("adv_resp_too_long", ble.gap_advertise, 100000, adv_payload("conf-01"), resp_data=bytes(32))
call("adv_too_long", ble.gap_advertise, 100000, bytes(32))
call("adv", ble.gap_advertise, 100000, adv_payload("conf-01"))
call("notify_not_connected", ble.gatts_notify, 0, h_data, b"x")
drain("before_connect")

ev = wait_event(_IRQ_CENTRAL_CONNECT)
conn = ev[1][0] if ev else 0
# Before the central subscribed, and before any MTU exchange: sent (or not) without an error.
call("notify_unsubscribed", ble.gatts_notify, conn, h_data, bytes(20))
wait_event(_IRQ_GATTS_WRITE)  # the central subscribes (CCCD write), then writes b"go" to CTRL
drain("connect_to_write")
call("read_ctrl", ble.gatts_read, h_ctrl)
call("notify_too_long", ble.gatts_notify, conn, h_data, bytes(300))  # cut to MTU-3, silently
enomem = 0
other = []
for i in range(400):
    try:
        ble.gatts_notify(conn, h_data, bytes(200))
    except OSError as e:
        if e.args and e.args[0] == 12:
            enomem += 1
            time.sleep_ms(1)
        else:
            other.append(e.args[0] if e.args else None)
log.append(["flood", "enomem_seen", enomem > 0, "other_errors", other])
sent = False
t0 = time.ticks_ms()
while not sent and time.ticks_diff(time.ticks_ms(), t0) < _WAIT_MS:
    try:
        ble.gatts_notify(conn, h_data, b"END")
        sent = True
    except OSError:
        time.sleep_ms(20)
log.append(["end_marker", "sent", sent])
wait_event(_IRQ_CENTRAL_DISCONNECT)
drain("until_disconnect")
call("notify_after_disconnect", ble.gatts_notify, conn, h_data, b"x")
call("disconnect_gone", ble.gap_disconnect, conn)
call("read_after_disconnect", ble.gatts_read, h_ctrl)
call("notify_bad_conn", ble.gatts_notify, 77, h_data, b"x")
time.sleep_ms(200)
drain("after_disconnect")
print("CONFORMANCE " + json.dumps(log))
