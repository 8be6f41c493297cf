"""MicroPython-side cases for the `bluetooth` emulation (run by test_sim_bt_emulation.py).

Needs a running air and MYOSTRIDE_SIM_NODE pointing at a node.json of its world.
"""

import errno

import bluetooth

_FLAG_READ = 0x0002
_FLAG_WRITE = 0x0008
_FLAG_NOTIFY = 0x0010


def _ble():
    ble = bluetooth.BLE()
    ble.active(True)
    return ble


def _raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def test_uuid_forms_compare_and_print():
    a = bluetooth.UUID("4d59f001-0a3e-4c6f-9d21-6d796f737472")
    b = bluetooth.UUID("4D59F001-0A3E-4C6F-9D21-6D796F737472")
    assert a == b and hash(a) == hash(b)
    assert a != bluetooth.UUID("4d59f002-0a3e-4c6f-9d21-6d796f737472")
    assert repr(a) == "UUID('4d59f001-0a3e-4c6f-9d21-6d796f737472')"
    assert repr(bluetooth.UUID(0x2A19)) == "UUID(0x2a19)"
    assert bluetooth.UUID(0x180F) == bluetooth.UUID(b"\x0f\x18")
    _raises(ValueError, bluetooth.UUID, 0x12345)
    _raises(ValueError, bluetooth.UUID, "not-a-uuid")


def test_module_flag_constants_match_micropython():
    assert (bluetooth.FLAG_READ, bluetooth.FLAG_WRITE_NO_RESPONSE, bluetooth.FLAG_WRITE, bluetooth.FLAG_NOTIFY, bluetooth.FLAG_INDICATE) == (2, 4, 8, 16, 32)


def test_singleton_and_active():
    ble = _ble()
    assert bluetooth.BLE() is ble
    assert ble.active() is True
    assert ble.active(True) is True


def test_config_values():
    ble = _ble()
    ble.config(gap_name="myo-07", mtu=247)
    assert ble.config("gap_name") == b"myo-07"
    assert ble.config("mtu") == 247
    addr_type, mac = ble.config("mac")
    assert addr_type == 1 and len(mac) == 6
    _raises(ValueError, ble.config, "no_such_param")
    _raises(ValueError, ble.config, mtu=10)


def test_register_services_returns_handles_per_service():
    ble = _ble()
    s1 = (bluetooth.UUID(0x180F), ((bluetooth.UUID(0x2A19), _FLAG_READ | _FLAG_NOTIFY),))
    s2 = (
        bluetooth.UUID("4d59f000-0a3e-4c6f-9d21-6d796f737472"),
        (
            (bluetooth.UUID("4d59f001-0a3e-4c6f-9d21-6d796f737472"), _FLAG_NOTIFY),
            (bluetooth.UUID("4d59f002-0a3e-4c6f-9d21-6d796f737472"), _FLAG_WRITE, ((bluetooth.UUID(0x2901), _FLAG_READ),)),
        ),
    )
    ((batt,), (data, ctrl, desc)) = ble.gatts_register_services((s1, s2))
    handles = [batt, data, ctrl, desc]
    assert len(set(handles)) == 4 and sorted(handles) == handles
    assert desc == ctrl + 1  # the descriptor follows its characteristic's value


def test_gatts_write_read_and_buffer():
    ble = _ble()
    ((h,),) = ble.gatts_register_services(((bluetooth.UUID(0x180F), ((bluetooth.UUID(0x2A19), _FLAG_READ | _FLAG_WRITE),)),))
    assert ble.gatts_read(h) == b""
    assert ble.gatts_write(h, b"\x01\x02\x03") == 3  # NimBLE returns the length written
    assert ble.gatts_read(h) == b"\x01\x02\x03"
    ble.gatts_write(h, bytearray(100))  # local writes may exceed the 20-byte default buffer
    assert len(ble.gatts_read(h)) == 100
    ble.gatts_set_buffer(h, 64, True)
    # as NimBLE (tests/sim_radio/test_sim_conformance.py): b"" for an unknown handle, EINVAL to write it
    assert ble.gatts_read(999) == b""
    assert _raises(OSError, ble.gatts_write, 999, b"x").args[0] == 22


def test_advertising_payload_limit():
    ble = _ble()
    ble.gap_advertise(100000, b"\x02\x01\x06" + b"\x1b\xff" + bytes(26))  # exactly 31 bytes
    # NimBLE's errors for payloads over 31 bytes (measured: -18 for advertising, EINVAL for the scan response)
    e = _raises(OSError, ble.gap_advertise, 100000, b"\x02\x01\x06" + b"\x1c\xff" + bytes(27))
    assert e.args[0] == -18
    assert _raises(OSError, ble.gap_advertise, 100000, b"\x02\x01\x06", resp_data=bytes(32)).args[0] == 22
    ble.gap_advertise(None)


def test_notify_and_disconnect_without_connection():
    ble = _ble()
    ((h,),) = ble.gatts_register_services(((bluetooth.UUID(0x180F), ((bluetooth.UUID(0x2A19), _FLAG_NOTIFY),)),))
    e = _raises(OSError, ble.gatts_notify, 5, h, b"x")
    assert e.errno == errno.ENOTCONN
    assert ble.gap_disconnect(5) is False
