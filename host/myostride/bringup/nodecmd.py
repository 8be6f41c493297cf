"""`myostride node info|config|identify|reboot`: the same four jobs over USB serial or BLE.

Serial (--port): runs small scripts in the node's raw REPL using the firmware's
own modules (config.load, status.battery_pct, board.load) so the answers are the
firmware's, then restarts the node (entering the REPL stopped its main.py).
BLE (--node ID): the wire commands through the host's link (acquire.link):
C_STATUS + the readable status frame, C_CONFIGURE, C_IDENTIFY, C_REBOOT; the
node validates a configure itself and its refusal is shown as is.
"""

import asyncio
import json

from myowire import codec

from ..errors import UserError
from . import flash, nodeconfig
from .repl import BoardError

# ---------------------------------------------------------------- serial

_INFO = """
def _info():
    import json, sys
    r = {}
    try:
        r['config_raw'] = open('config.json').read()
    except OSError:
        r['config_raw'] = None
    try:
        r['board_json'] = json.load(open('board.json'))
    except Exception:
        r['board_json'] = None
    try:
        sys.modules.pop('version', None)
        import version
        r['firmware'] = list(version.FIRMWARE_VERSION)
    except Exception as e:
        r['firmware'] = None
        r['firmware_error'] = repr(e)
    try:
        import board, config, status
        b = board.load()
        r['board_kind'] = getattr(b, 'name', '?')
        mv = b.battery_mv()
        r['battery_mv'] = mv
        r['battery_pct'] = status.battery_pct(mv)
        c, why = config.load((b.fs_dir + '/' if b.fs_dir else '') + config.FILE_NAME, b)
        r['config_effective'] = c
        r['config_problem'] = why
    except Exception as e:
        r['hardware_error'] = repr(e)
    return json.dumps(r)
import sys, gc
_before = set(sys.modules)
print(_info())
for _m in list(sys.modules):
    if _m not in _before:
        del sys.modules[_m]
del _info, _before, _m
gc.collect()
"""


def serial_info(board):
    """Facts from the node itself (dict)."""
    try:
        return json.loads(board.exec(_INFO, timeout=20).strip().splitlines()[-1])
    except (BoardError, ValueError, IndexError) as exc:
        raise UserError("the node did not answer the info request (%s); reflash it with myostride flash" % exc)


def config_problem(info):
    """Why the firmware would reject the node's config.json (None if it accepts it).

    The firmware's own verdict when its board could be loaded, else the host's
    rules for the node's board.json (same rules, tested against each other)."""
    if "config_problem" in info:
        return info["config_problem"]
    raw = info.get("config_raw")
    if raw is None:
        return None
    try:
        cfg = json.loads(raw)
    except ValueError:
        return "config.json is not valid JSON"
    if not isinstance(cfg, dict):
        return "config is not a JSON object"
    p = rules_for(info).problems(cfg) + ["missing key %s" % k for k in nodeconfig.KEYS if k not in cfg]
    return "; ".join(p) or None


def rules_for(info):
    """Config rules from the node's board.json (the reference board's if it has none)."""
    if info.get("board_json"):
        return nodeconfig.Rules.from_board(info["board_json"])
    return nodeconfig.Rules()


def serial_config(board, updates, say=print):
    """Validate, write config.json atomically (staged, hash-verified, renamed), read it back."""
    info = serial_info(board)
    rules = rules_for(info)
    raw = info.get("config_raw")
    cfg, note = rules.merged(raw.encode() if raw is not None else None, updates)
    if note:
        say("note: " + note)
    data = nodeconfig.encode(cfg)
    from .fileset import NodeFile

    f = NodeFile("config.json", data, None)
    board.write_file("config.json" + flash.STAGED, data)
    got = board.sha256(["config.json" + flash.STAGED])["config.json" + flash.STAGED]
    if got != f.sha256:
        raise UserError("config.json did not arrive intact (SHA-256 mismatch); nothing was changed; try again")
    board.exec(
        "import os\ntry:\n os.rename('config.json.new', 'config.json')\nexcept OSError:\n"
        " os.remove('config.json')\n os.rename('config.json.new', 'config.json')\n"
    )
    back = board.read_file("config.json")
    if back != data:
        raise UserError("config.json read back differs from what was written; try again")
    after = serial_info(board)
    if after.get("config_problem"):
        raise UserError("the firmware rejects the new config.json: %s" % after["config_problem"])
    return json.loads(back.decode()), after


def serial_identify(board, seconds):
    """Blink the node's LED (from board.json) for `seconds`; the node's firmware is paused meanwhile."""
    code = (
        "import json, time\n"
        "_led = json.load(open('board.json')).get('led')\n"
        "if not _led:\n raise OSError('this board definition has no LED')\n"
        "import machine\n"
        "_p = machine.Pin(_led['pin'], machine.Pin.OUT)\n"
        "for _i in range(%d):\n _p.value(_i %% 2)\n time.sleep_ms(250)\n_p.value(0)\n" % (seconds * 4)
    )
    try:
        board.exec(code, timeout=seconds + 10)
    except BoardError as exc:
        raise UserError("cannot blink this node's LED: %s" % exc.args[0].strip().splitlines()[-1])


# ---------------------------------------------------------------- BLE

async def open_link(node_id, backend, scan_s=5.0):
    """A connected acquire.link.NodeLink to node `node_id` (UserError if it is not advertising).

    backend: an acquire.backends.Backend."""
    from ..acquire.link import NodeLink
    from ..acquire.scanner import scan

    found = await scan(scan_s, backend, want={node_id})
    if node_id not in found:
        seen = ", ".join(str(n) for n in sorted(found)) or "none"
        raise UserError("node %d is not advertising (nodes seen: %s); switch it on, bring it closer, "
                        "or check its id with `myostride scan`" % (node_id, seen))
    link = NodeLink(node_id, found[node_id].device, backend.host_clock_us, lambda *a: None, lambda *a: None,
                    lambda *a: None, client_cls=backend.client_backend, client_kwargs=backend.device_kwargs())
    try:
        await link.connect()
    except Exception as exc:
        raise UserError("cannot connect to node %d (%s); is another host connected to it?" % (node_id, exc))
    return link


async def ble_command(link, opcode, args=b"", timeout_s=3.0):
    """Send one command; returns the ACK dict or raises UserError with the node's own reason."""
    from ..acquire.link import CommandFailed

    try:
        _f, _t1, reply = await link.send(opcode, args, timeout_s=timeout_s)
    except CommandFailed as exc:
        raise UserError(str(exc))
    if reply.get("type") == "ack" and reply["status"] != codec.ACK_OK:
        raise UserError("node %d refused %s: %s (%s)" % (
            link.node_id, codec.COMMAND_NAMES.get(opcode, opcode), reply.get("message") or "no reason given",
            codec.ACK_NAMES.get(reply["status"], reply["status"])))
    return reply


async def ble_info(link):
    """(status dict, ack message) via C_STATUS and the readable status frame."""
    ack = await ble_command(link, codec.C_STATUS)
    st = await link.read_status()
    if st is None or st.get("type") != "status":
        raise UserError("node %d sent no readable status frame" % link.node_id)
    return st, ack.get("message", "")


async def wait_rebooted(link, backend, down_s=3.0, up_s=10.0):
    """After C_REBOOT: wait for the node to drop the link, then to advertise again. True if it did."""
    from ..acquire.scanner import scan

    loop = asyncio.get_running_loop()
    end = loop.time() + down_s
    while link.connected and loop.time() < end:
        await asyncio.sleep(0.05)
    if link.connected:
        return False
    found = await scan(up_s, backend, want={link.node_id})
    return link.node_id in found


def configure_args_from(updates):
    """C_CONFIGURE argument bytes for the keys the user set (0 = unchanged on the wire)."""
    flags = 0
    if updates.get("powerline_hz") == 0:
        flags |= codec.CFG_POWERLINE_OFF
    if updates.get("imu_hz") == 0:
        flags |= codec.CFG_IMU_OFF
    if updates.get("label") == "":
        flags |= codec.CFG_CLEAR_LABEL
    if "highpass_order" in updates:
        raise UserError("--highpass-order can only be set over USB (--port); the wire command has no field for it")
    return codec.configure_args(
        updates.get("emg_hz", 0), updates.get("highpass_hz", 0), updates.get("powerline_hz", 0) or 0,
        updates.get("imu_hz", 0) or 0, updates.get("label", "") or "", updates.get("node_id", 0), flags)


def run_ble(node_id, backend, job):
    """Run `await job(link)` against a connected node and disconnect afterwards (backend: a Backend)."""

    async def go():
        link = await open_link(node_id, backend)
        try:
            return await job(link)
        finally:
            await link.disconnect()

    return asyncio.run(go())
