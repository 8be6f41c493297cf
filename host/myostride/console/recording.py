"""The console's ONE adapter around the recorder (acquire.recorder.Recorder).

Each trial is recorded by a child process (`python -m myostride.console.recording SPEC`)
that runs the same Recorder as `myostride record`, so:
  * the web server's load (a busy page, a slow analysis) never delays radio reception;
  * closing the tab or a browser crash does nothing to it: it belongs to the server;
  * if the server dies, the child sees its stdin close (and SIGTERM via PDEATHSIG) and
    stops the way Ctrl-C stops `myostride record`: STOP, fetch missing frames, write
    session.json. Everything received is in raw.log the moment it arrives anyway.
The child prints the recorder's own progress snapshot (Recorder.snapshot) as one JSON
line every 0.5 s; the parent keeps the latest for the page's badges. Adapting to a
changed recorder API is a change to this file only.
"""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

CHILD_LOG = "console-recorder.log"
# After the trial's end (length reached or stop asked) the recorder gets this long to close the
# session (its own STOP and drain bounds are 10 s each); then the child exits and the console
# rebuilds session.json from raw.log, which already holds every sample received.
# DRAIN_S: after STOP, how long missing frames are still asked for; the drain ends as soon as
# nothing is missing, so the long limit only matters on a starved machine or a weak link.
DRAIN_S = 30.0
END_BOUND_S = 60.0
# Nodes just released by the check (or an identify) take a moment to advertise again; the scan
# ends as soon as every mapped node is seen, so a long limit costs nothing when they are there.
SCAN_S = 30.0
# STOP (10 s) + DRAIN_S + disconnects, with room: then the parent stops waiting and ends the child.
STOP_BOUND_S = 80.0


# ---------------------------------------------------------------- child side

def _emit(obj):
    sys.stdout.write(json.dumps(obj, default=float) + "\n")
    sys.stdout.flush()


async def _child_main(spec):
    from ..acquire.backends import resolve_backend
    from ..acquire.recorder import Recorder
    from ..errors import UserError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin():
        # "stop" from the console, or EOF because the console went away: a clean stop either way.
        while not stop.is_set():
            line = await reader.readline()
            if not line or line.strip() == b"stop":
                stop.set()

    last = {}

    def progress(snap):
        last["elapsed_s"] = snap.get("elapsed_s") or 0.0
        _emit({"snapshot": snap})

    async def bound_end():
        seconds = spec.get("seconds")
        while not stop.is_set() and not (seconds and last.get("elapsed_s", 0.0) >= seconds):
            await asyncio.sleep(0.5)
        await asyncio.sleep(END_BOUND_S)
        _emit({"error": "the recorder did not close the session within %.0f s of the trial's end; "
                        "session.json is rebuilt from raw.log, which holds every sample received" % END_BOUND_S})
        os._exit(3)

    watcher = asyncio.create_task(watch_stdin())
    bound = asyncio.create_task(bound_end())
    try:
        backend = resolve_backend(spec["backend"], world=spec.get("world"), hci=spec.get("hci"))
        rec = Recorder(spec["out"], spec["mapping"], spec.get("seconds"), backend=backend,
                       config=spec.get("config"), progress=progress, scan_s=spec.get("scan_s", SCAN_S),
                       drain_s=spec.get("drain_s", DRAIN_S))
        man = await rec.run(stop)
    except UserError as exc:
        _emit({"error": str(exc)})
        return 2
    finally:
        for t in (watcher, bound):
            t.cancel()
        await asyncio.gather(watcher, bound, return_exceptions=True)
        transport.close()
    if spec.get("check_json"):
        try:
            Path(spec["out"], "check.json").write_text(Path(spec["check_json"]).read_text())
        except OSError as exc:
            _emit({"warning": "could not store the pre-trial check with the session: %s" % exc})
    _emit({"done": {"status": man.get("status"), "end_reason": man.get("end_reason"),
                    "duration_s": man.get("duration_s")}})
    return 0 if man.get("status") in ("complete", "stopped") else 1


def _die_with_parent():
    """Linux: SIGTERM this process when the console server dies (house rule: children die with their parent)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# ---------------------------------------------------------------- parent side

class TrialProcess:
    """One recording child: start it, follow its snapshots, stop it within a bound."""

    def __init__(self, spec):
        self.spec = spec
        self.proc = None
        self.snapshot = None
        self.done = None
        self.error = None
        self.warnings = []
        self._reader = None

    @property
    def running(self):
        return self.proc is not None and self.proc.returncode is None

    async def start(self):
        out = Path(self.spec["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        log = open(out.parent / (out.name + "." + CHILD_LOG), "ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "myostride.console.recording", json.dumps(self.spec),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                preexec_fn=_die_with_parent, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        finally:
            log.close()
        self._reader = asyncio.create_task(self._read())

    async def _read(self):
        while not self.proc.stdout.at_eof():  # ends at the child's end of output (it exits or is killed)
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "snapshot" in msg:
                self.snapshot = msg["snapshot"]
            elif "done" in msg:
                self.done = msg["done"]
            elif "error" in msg:
                self.error = msg["error"]
            elif "warning" in msg:
                self.warnings.append(msg["warning"])

    def request_stop(self):
        """Ask for the clean stop (STOP, drain, session.json); returns at once."""
        if self.running and self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(b"stop\n")

    async def wait(self, bound_s=STOP_BOUND_S):
        """Wait for the child to end; after bound_s it is terminated (raw.log still holds everything)."""
        if self.proc is None:
            return None
        try:
            async with asyncio.timeout(bound_s):
                await self.proc.wait()
        except TimeoutError:
            self.proc.terminate()
            try:
                async with asyncio.timeout(5.0):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            try:
                async with asyncio.timeout(2.0):
                    await self._reader
            except TimeoutError:
                self._reader.cancel()
                await asyncio.gather(self._reader, return_exceptions=True)
        return self.proc.returncode

    async def close(self):
        self.request_stop()
        return await self.wait()


if __name__ == "__main__":
    _die_with_parent()
    sys.exit(asyncio.run(_child_main(json.loads(sys.argv[1]))))
