"""A MicroPython board over its serial raw REPL (mpremote's SerialTransport underneath).

Why a wrapper: every bring-up job (flash, node commands) needs the same few
operations -- run a snippet and get its output, write a file in chunks, hash
files on the board -- with failures turned into messages a user can act on.
The same class talks to a USB-serial ESP32 and to the virtual board (devboard).
"""

import ast
import base64
import os
import time

from ..errors import UserError

try:  # mpremote >= 1.24
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport
except ImportError:  # pragma: no cover - pyproject requires mpremote
    SerialTransport = None

READ_TIMEOUT_S = 5
OPEN_RETRY_S = 3.0
WRITE_CHUNK = 768  # raw bytes per exec: base64 keeps each command under ~1 kB


class BoardError(Exception):
    """The board answered, but with a Python error (the text is the board's traceback)."""


class LinkLost(Exception):
    """The serial link failed mid-operation (cable pulled, board reset, port vanished)."""


def open_board(port, baudrate=115200):
    """Open `port` and enter the raw REPL (interrupting whatever main.py runs)."""
    if SerialTransport is None:
        raise UserError("mpremote is not installed; run: pip install 'mpremote>=1.24,<2'")
    if not os.path.exists(port) and not port.startswith(("socket://", "rfc2217://", "COM")):
        raise UserError(
            "serial port %s does not exist; plug the node in and list ports with "
            "`python -m serial.tools.list_ports` (or start a virtual board: myostride devboard)" % port
        )
    # A read timeout so a board that stops answering (reset, unplugged) ends in an error, not a hang.
    # Opening is retried briefly: right after a reset the port can be busy for a moment (a
    # process starting on the board side may still hold its lock).
    deadline = time.monotonic() + OPEN_RETRY_S
    while True:
        try:
            transport = SerialTransport(port, baudrate=baudrate, timeout=READ_TIMEOUT_S)
            break
        except Exception as exc:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise UserError("cannot open %s (%s); is another program (a serial monitor, mpremote) using it?"
                            % (port, _open_error(port) or exc))
    board = Board(transport, port)
    try:
        _enter_raw(transport)
    except Exception as exc:
        board.close()
        raise UserError(
            "no MicroPython raw REPL on %s (%s); is MicroPython installed on the board "
            "(see `myostride flash --help`) and is the baud rate right?" % (port, exc)
        )
    return board


def _open_error(port):
    """The operating system's reason a port cannot be opened (mpremote hides it)."""
    import serial

    try:
        serial.Serial(port, exclusive=True).close()
    except Exception as exc:
        return str(exc)
    return None


def _enter_raw(transport, attempts=2):
    """Interrupt the running program and enter the raw REPL.

    A second Ctrl-C after a pause cancels whatever state bytes queued while the
    program ran left the REPL in (paste mode, a half line); one retry covers a
    board still printing its boot messages.
    """
    for i in range(attempts):
        try:
            transport.serial.write(b"\r\x03")
            time.sleep(0.15)
            transport.serial.write(b"\x03")
            time.sleep(0.05)
            transport.enter_raw_repl(soft_reset=False)
            return
        except TransportError:
            if i == attempts - 1:
                raise


class Board:
    """Raw-REPL session with one board; use `with open_board(port) as b:`."""

    def __init__(self, transport, port):
        self.t = transport
        self.port = port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            if self.t.in_raw_repl:
                self.t.exit_raw_repl()
        except Exception:
            pass
        try:
            self.t.close()  # also drops RTS/DTR, which a pty may refuse
        except Exception:
            pass
        finally:
            try:
                self.t.serial.close()  # always release the port (and its exclusive lock)
            except Exception:
                pass

    def exec(self, code, timeout=30):
        """Run code on the board; returns its stdout as text. Raises BoardError / LinkLost."""
        try:
            out, err = self.t.exec_raw(code, timeout=timeout)
        except TransportError as exc:
            raise LinkLost(str(exc))
        except OSError as exc:  # serial.SerialException is an OSError
            raise LinkLost(str(exc))
        if err:
            raise BoardError(err.decode("utf-8", "replace").strip())
        return out.decode("utf-8", "replace")

    def eval(self, expr):
        """Evaluate a literal-valued expression on the board (repr parsed locally)."""
        text = self.exec("print(repr(%s))" % expr).strip()
        return ast.literal_eval(text)

    def write_file(self, path, data, progress=None):
        """Write bytes to `path` on the board (overwrites), base64 chunks, one exec each."""
        self.exec("from binascii import a2b_base64 as _d\n_f=open(%r,'wb')" % path)
        try:
            for i in range(0, len(data), WRITE_CHUNK):
                chunk = base64.b64encode(data[i : i + WRITE_CHUNK]).decode()
                self.exec("_f.write(_d(%r))" % chunk)
                if progress:
                    progress(min(i + WRITE_CHUNK, len(data)), len(data))
        finally:
            try:
                self.exec("_f.close()\ndel _f, _d")
            except (BoardError, LinkLost):
                pass

    def read_file(self, path):
        """File contents as bytes, or None if it does not exist."""
        code = (
            "from binascii import b2a_base64 as _e\n"
            "try:\n _f=open(%r,'rb')\nexcept OSError:\n print('<none>')\nelse:\n"
            " while True:\n  _b=_f.read(512)\n  if not _b:\n   break\n  print(_e(_b).decode().strip())\n"
            " _f.close()\n print('<end>')\n" % path
        )
        lines = self.exec(code).split()
        if lines and lines[0] == "<none>":
            return None
        return b"".join(base64.b64decode(x) for x in lines if x != "<end>")

    def sha256(self, paths):
        """{path: hex digest or None if missing}, computed on the board with its hashlib."""
        code = (
            "import hashlib, binascii\n"
            "def _h(p):\n"
            " try:\n  f=open(p,'rb')\n except OSError:\n  return '-'\n"
            " h=hashlib.sha256(); b=bytearray(512); m=memoryview(b)\n"
            " while True:\n  n=f.readinto(b)\n  if not n:\n   break\n  h.update(m[:n])\n"
            " f.close()\n return binascii.hexlify(h.digest()).decode()\n"
            "for _p in %r:\n print(_h(_p), _p)\n"
            "del _h\n" % (list(paths),)
        )
        out = {}
        for line in self.exec(code, timeout=60).splitlines():
            digest, _, path = line.strip().partition(" ")
            if path:
                out[path] = None if digest == "-" else digest
        return out

    def mkdirs(self, dirs):
        """Create directories (parents first); existing ones are fine."""
        if not dirs:
            return
        self.exec(
            "import os\nfor _d in %r:\n try:\n  os.mkdir(_d)\n except OSError:\n  pass\n" % (sorted(set(dirs), key=len),)
        )

    def soft_reset(self):
        """Ctrl-D on an empty raw REPL: the board soft-resets (main.py is skipped, raw REPL again)."""
        try:
            self.t.serial.write(b"\x04")
            data = self.t.read_until(1, b"soft reboot\r\n", timeout=10)
            if not data.endswith(b"soft reboot\r\n"):
                raise LinkLost("the board did not confirm the soft reboot")
            data = self.t.read_until(1, b"raw REPL; CTRL-B to exit\r\n", timeout=10)
        except OSError as exc:
            raise LinkLost(str(exc))
