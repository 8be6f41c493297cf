"""Reference board and drivers against a scripted `machine`: pin map from the board JSON,
ADS1292R set-up and DRDY conversion path into the ring, LSM6DSO units, battery, self-test."""

import json

import machine
from machine import ads_frame
from myowire import codec

from board_ref import RefBoard
from ring import Ring
from fwt_helpers import eq, tmp_dir

BOARD_JSON = "hardware/boards/myostride-ref-s3.json"


def _spec():
    import os

    root = os.getenv("MYOSTRIDE_REPO") or "."
    with open(root + "/" + BOARD_JSON) as f:
        spec = json.load(f)
    spec["fs_dir"] = tmp_dir("refboard")
    return spec


def _board():
    machine.LOG[:] = []
    b = RefBoard(_spec())
    r = Ring(256)
    imu = Ring(16, 6)
    foot = []
    b.start(r, imu, 104, lambda k, i, lvl: foot.append((k, i, lvl)), 2000)
    return b, r, imu, foot


def test_pins_and_buses_come_from_the_board_file():
    spec = _spec()
    b, r, imu, foot = _board()
    s = machine.SPI.last.kw
    eq((s["baudrate"], s["polarity"], s["phase"]), (2000000, 0, 1), "SPI mode 1")
    eq(s["sck"].n, spec["emg"]["spi"]["sck"], "sck pin")
    drdy = machine.Pin.pins[spec["emg"]["drdy"]]
    eq(drdy.trigger, machine.Pin.IRQ_FALLING, "DRDY falling edge")
    eq(drdy.hard, False, "soft IRQ as configured")
    eq(machine.I2C.last.kw["freq"], 400000, "I2C speed")
    eq(b.emg_rates, (1000, 2000), "rates")
    eq(b.imu_rates, (104, 208), "imu rates")


def test_ads1292r_setup_sequence():
    b, r, imu, foot = _board()
    spi = [x[1] for x in machine.LOG if x[0] == "spi"]
    eq(spi[0], b"\x06", "RESET")
    eq(spi[1], b"\x11", "SDATAC before register access")
    wregs = dict([(x[0] & 0x1F, x[2]) for x in spi if len(x) == 3 and x[0] & 0xE0 == 0x40])
    eq(wregs[0x01], 0x04, "CONFIG1: 2 kSPS")
    eq(wregs[0x04] >> 4, 0, "CH1 gain 6")
    eq(wregs[0x07] & 0x03, 0x03, "lead-off sensing on IN1P/IN1N")
    assert b"\x10" in spi, "RDATAC"
    assert b.selftest & codec.S_AFE and b.selftest & codec.S_IMU and b.selftest & codec.S_STORAGE


def test_drdy_path_converts_24_bit_codes_into_the_ring():
    b, r, imu, foot = _board()
    spi = machine.SPI.last
    drdy = machine.Pin.pins[9]
    # a large negative DC offset, then a +/- step around it
    codes = [-400000] * 3000 + [-400000 + 16 * 300] * 20 + [-400000 - 16 * 300] * 20
    spi.frames = [ads_frame(c) for c in codes]
    out = []
    buf = bytearray(2 * 64)
    for i in range(len(codes)):
        drdy.fire()
        n = r.take(buf, 0, 64)
        for j in range(n):
            v = buf[2 * j] | (buf[2 * j + 1] << 8)
            out.append(v - 65536 if v & 0x8000 else v)
    eq(len(out), len(codes), "one sample per DRDY")
    eq(b.emg_next(), len(codes), "sample index")
    assert max([abs(v) for v in out[:3000]]) <= 1, "DC offset removed from the first sample on"
    assert 280 <= out[3005] <= 300, out[3005]  # +300 codes after >> 4
    assert -320 <= out[3030] <= -290, out[3030]
    eq(b.nv_per_lsb, 769, "2*2.42 V / 6 / 2^24 * 2^4 in nV")


def test_lead_off_bits():
    b, r, imu, foot = _board()
    spi = machine.SPI.last
    spi.frames = [ads_frame(0, loff=0x02), ads_frame(0, loff=0x0C), ads_frame(0)]
    drdy = machine.Pin.pins[9]
    drdy.fire()
    eq(b.lead_off(0, 1), True, "IN1N off")
    drdy.fire()
    eq(b.lead_off(1, 2), False, "only channel 2 electrodes")
    drdy.fire()
    eq(b.lead_off(2, 3), False, "on")


def test_imu_units_and_polling():
    b, r, imu, foot = _board()
    machine.I2C.last.set_raw(2857, -2857, 0, 8197, 0, -8197)  # 100 dps, 1 g
    b.poll()
    out = bytearray(12)
    eq(imu.take(out, 0, 1), 1, "one record")
    import struct

    eq(list(struct.unpack("<6h", out)), [1000, 0, -1000, 1000, -1000, 0], "mg and 0.1 deg/s, rounded")
    eq(b.imu_next(), 1, "imu index")


def test_battery_footswitch_reset():
    b, r, imu, foot = _board()
    machine.ADC.uv = 2050000
    eq(b.battery_mv(), 4100, "divider 2")
    p = machine.Pin.pins[16]
    p(0)  # active low: pressed
    p.fire()
    eq(foot, [(0, 0, 1)], "edge with sample index, input, level")
    eq(b.reset(), True, "hardware reset")
    eq(len(machine.RESETS), 1, "machine.reset called")


def test_node_streams_from_the_reference_board():
    import bluetooth
    from node import Node
    from fwt_helpers import connect, command, data_frames

    machine.LOG[:] = []
    n = Node(RefBoard(_spec()), bluetooth)
    ble = bluetooth.BLE.last
    connect(n, ble)
    eq(command(n, ble, 1, codec.C_START)["status"], codec.ACK_OK, "start")
    spi = machine.SPI.last
    drdy = machine.Pin.pins[9]
    k = 0
    for burst in range(6):
        spi.frames = [ads_frame(1000 * ((k + i) % 7) - 3000) for i in range(100)]
        for i in range(100):
            drdy.fire()
        k += 100
        n.step()
    eq(command(n, ble, 2, codec.C_STOP)["status"], codec.ACK_OK, "stop")
    n.step()
    frames = data_frames(n, ble)
    emg = [f for f in frames if f["type"] == "emg"]
    eq(sum([f["count"] for f in emg]), 600, "every conversion framed")
    eq([f["t0_us"] for f in emg], [i * 113 * 500 for i in range(len(emg))], "t0 from the sample index at 2 kHz")
    st = [f for f in frames if f["type"] == "status"][0]
    eq(st["nv_per_lsb"], 769, "scale reported")
    assert st["selftest"] & codec.S_AFE


def test_node_clock_is_the_converter_clock_and_never_goes_back():
    import time
    import bluetooth
    from node import Node
    from fwt_helpers import connect, command, data_frames

    machine.LOG[:] = []
    n = Node(RefBoard(_spec()), bluetooth)
    ble = bluetooth.BLE.last
    connect(n, ble)
    command(n, ble, 1, codec.C_START)
    spi = machine.SPI.last
    drdy = machine.Pin.pins[9]
    spi.frames = [ads_frame(0) for _ in range(1000)]
    t = time.ticks_us()
    for _ in range(1000):  # 1000 conversions delivered in far less than 0.5 s of MCU time
        drdy.fire()
    fast_us = time.ticks_diff(time.ticks_us(), t)
    now = n.clock.now_us()
    assert 999 * 500 <= now <= 999 * 500 + 5000, (now, fast_us)  # 2 kHz sample clock, not ticks
    ble.central_write(n.radio.h_control, codec.encode_command(n.cfg["node_id"], 2, 0, codec.C_SYNC))
    r = codec.decode_frame(ble.take_notes(n.radio.h_reply)[0])
    assert 999 * 500 <= r["t2_us"] <= r["t3_us"] <= 999 * 500 + 5000, r
    n.step()
    command(n, ble, 3, codec.C_STOP)
    n.radio.pump()  # the flushed partial frame
    before = [f for f in data_frames(n, ble) if f["type"] == "emg"]
    eq(sum([f["count"] for f in before]), 1000, "every conversion sent")
    # a new rate: sample indices continue, a new epoch starts at 'now'
    eq(command(n, ble, 4, codec.C_CONFIGURE, codec.configure_args(1000, 0, 0, 0))["status"], codec.ACK_OK, "1 kHz")
    command(n, ble, 5, codec.C_START)
    spi.frames = [ads_frame(0) for _ in range(300)]
    for _ in range(300):
        drdy.fire()
    n.step()
    command(n, ble, 6, codec.C_STOP)
    n.radio.pump()
    after = [f for f in data_frames(n, ble) if f["type"] == "emg"]
    eq(sum([f["count"] for f in after]), 300, "every conversion at the new rate sent")
    last_end = before[-1]["t0_us"] + before[-1]["count"] * 500
    assert after[0]["t0_us"] >= last_end, (after[0]["t0_us"], last_end)
    eq(after[1]["t0_us"] - after[0]["t0_us"], after[0]["count"] * 1000, "1 kHz spacing")
    assert n.clock.now_us() >= after[-1]["t0_us"] + (after[-1]["count"] - 1) * 1000
