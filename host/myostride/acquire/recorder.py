"""Record a session from up to 12 nodes: connect, configure, sync, start, stream, recover, stop.

    backend = resolve_backend("sim", world="sim/world.json")   # acquire/backends.py
    manifest = await record_session("trial01", ["1=left:tibialis_anterior", ...], seconds=60, backend=backend)

Everything received is appended to raw.log the moment it arrives (see
rawlog.py); session.json is derived from that log at the end (and by
load_session() if the recorder dies). Per node, concurrent tasks send
time-sync pings and ask for resends of missing frames; a node that drops
its link is found again by its id and reconnected, and the missing frames
are asked for like any other loss. Live consumers (LSL, the console) get
decoded blocks through sinks (sinks.py) and the live view from
live_snapshot() (snapshot.py).

Ending is bounded whatever a node, the radio or the backend does: every
background task belongs to one TaskOwner (tasks.py) that cancels and awaits
it with a time bound, loops run while `running` is set, and each phase of the
end (STOP, drain, closing tasks, disconnecting) has its own bound. A stop
asked for by the user (Ctrl-C, SIGTERM, stop_event) ends with a closed
session in under STOP_USER_BOUND_S + USER_DRAIN_S + CLOSE_BOUND_S seconds.
"""

import asyncio
import random
import uuid
from pathlib import Path

import numpy as np

from myowire import codec

from .. import __version__
from ..errors import UserError
from . import logscan, manifest as manifest_mod, rawlog
from .backends import as_backend
from .gaps import SeqTracker, ranges_of
from .link import CommandFailed, NodeLink
from .mapping import parse_mapping
from .scanner import scan
from .settings import DEFAULT_BOARD, check_board, check_config
from .sinks import SinkHub
from .snapshot import LiveStats, build_snapshot
from .sync import OnlineClock
from .tasks import TaskOwner, bounded


# Bounds of the end of a recording (seconds). The requested end (duration reached) fetches
# missing frames for up to drain_s; a user's stop keeps the whole end under ~5 s.
STOP_BOUND_S = 4.0  # STOP to every node, answered or not
STOP_USER_BOUND_S = 1.5
USER_DRAIN_S = 1.0
CLOSE_BOUND_S = 1.0  # cancel and await the background tasks, then disconnect (each)
SETUP_CANCEL_BOUND_S = 1.0  # a stop during scan/connect/configure/warm sync
# Before START a reply can wait behind a node's backlog (a node still streaming from a host that
# died answers after it has flushed): setup commands wait longer than the running ones.
SETUP_REPLY_S = 5.0
# ... but a lost reply is far more common (seen: a bursty radio lost four CONFIGURE acks in a
# row, a 20 s stall at 5 s per try): setup commands are asked again after 0.75 s, then after
# twice as long each time up to SETUP_REPLY_S. Asking again is harmless (the node answers each).
SETUP_FIRST_REPLY_S = 0.75


class StoppedBeforeStart(Exception):
    """The user stopped the recording while nodes were being found, connected or configured."""


class NodeState:
    """Everything the recorder tracks for one node."""

    def __init__(self, nmap):
        self.map = nmap
        self.node_id = nmap.node_id
        self.found = None
        self.link = None
        self.tracker = SeqTracker()
        self.clock = OnlineClock()
        self.status = None
        self.nv_per_lsb = None
        self.live = LiveStats()
        self.connects = 0
        self.disconnects = 0
        self.reconnect_task = None
        self.started = False
        self.lead_off = False
        self.gone_frames = 0
        self.hold = False  # True while STOP is being sent: pings and resends wait
        self.checking = False  # True while a reconnect decides whether the node rebooted: resends wait
        self.epoch = 0  # boot epochs seen (a reboot restarts the node's seq at 0: a new tracker)
        self.past_trackers = []  # the trackers of earlier boots


class Recorder:
    """backend: an acquire.backends.Backend (a name is resolved, with world=; default real BLE).
    sinks: live consumers of decoded blocks and events (sinks.RecorderSink).
    progress: called with live_snapshot() every 0.5 s while recording."""

    def __init__(self, out_dir, mapping, seconds, backend=None, config=None, progress=None, world=None,
                 sync_period_s=0.05, resend_period_s=0.1, scan_s=10.0, drain_s=10.0, connect_timeout_s=10.0,
                 board=None, sinks=()):
        self.out = Path(out_dir)
        self.maps = parse_mapping(mapping)
        if seconds is not None and not seconds > 0:
            raise UserError("--seconds must be > 0 (got %s)" % seconds)
        self.seconds = seconds
        self.backend = as_backend(backend, world)
        self.config = check_config(config)
        self.board = check_board(DEFAULT_BOARD if board is None else board)
        self.progress = progress
        self.sync_period_s = sync_period_s
        self.resend_period_s = resend_period_s
        self.scan_s = scan_s
        self.drain_s = drain_s
        self.connect_timeout_s = connect_timeout_s
        self.client_cls = self.backend.client_backend
        self.dev_kwargs = self.backend.device_kwargs()
        self.clock_us = self.backend.host_clock_us
        self.sinks = SinkHub(sinks, self._sink_failed)
        self.nodes = {m.node_id: NodeState(m) for m in self.maps}
        self.log = None
        self.owner = None
        self.t_start = None
        self.phase = "scanning"
        self.stopping = False
        self.running = False
        self.user_stop = False
        self.stop_sent = False
        self.end_reason = None

    # ------------------------------------------------------------ setup

    def _open(self):
        self.created_dir = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        if (self.out / rawlog.LOG_NAME).exists():
            raise UserError("%s already holds a recorded session (raw.log); choose a new --out directory" % self.out)
        self.log = rawlog.RawLogWriter(self.out / rawlog.LOG_NAME)
        self.log.sync_in_caller = False  # _flush_loop fsyncs off the event loop
        self.session_id = str(uuid.uuid4())
        self.log.event(
            self.clock_us(), "session_start",
            session_id=self.session_id, created_utc=manifest_mod.utc_now(), myostride_version=__version__,
            backend=self.backend.name, host_clock=self.backend.host_clock_name, radio=self.backend.describe(),
            mapping=[m.to_json() for m in self.maps], config=self.config, seconds=self.seconds, board=self.board,
        )
        self.log.sync()
        self._write_manifest(live=True)

    def _write_manifest(self, live=False):
        contents = logscan.scan_log(self.out / rawlog.LOG_NAME)
        man, _ = manifest_mod.build_manifest(contents, live_recorder=live)
        if not live and self.log.error is not None:
            # raw.log could not take session_end: say why here (a rebuild says "interrupted")
            man["status"] = "failed"
            man["end_reason"] = self.end_reason
        manifest_mod.write_manifest(self.out / manifest_mod.MANIFEST_NAME, man)
        return man

    async def _find(self, want, seconds):
        return await scan(seconds, self.backend, want=set(want))

    async def _connect(self, st, attempts=3):
        last = None
        for attempt in range(attempts):
            link = NodeLink(st.node_id, st.found.device, self.clock_us, self._on_data, self._on_reply, self._on_disconnect,
                            self.client_cls, self.dev_kwargs)
            try:
                await link.connect(self.connect_timeout_s)
            except Exception as exc:
                last = exc
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            st.link = link
            st.connects += 1
            self._event("connected", node_id=st.node_id, name=st.found.name, address=st.found.address,
                           firmware=list(st.found.firmware), battery_pct=st.found.battery_pct, rssi_dbm=st.found.rssi,
                           mtu=link.mtu, attempt=st.connects)
            return link
        raise CommandFailed("could not connect to node %d (%s): %s" % (st.node_id, st.found.address, last))

    async def _command(self, st, opcode, args=b"", timeout_s=None, tries=5, first_timeout_s=None):
        """(t1, reply) of a command, sent up to `tries` times; each try waits timeout_s (the link's
        own when None). With first_timeout_s the tries wait that, doubling up to timeout_s, and
        go on until they have waited tries x timeout_s in all (the same patience, sooner retries)."""
        last = None
        waits = [timeout_s] * tries
        if first_timeout_s is not None:
            waits = []
            while sum(waits) < tries * timeout_s:
                waits.append(min(timeout_s, first_timeout_s * 2 ** len(waits)))
        tries = len(waits)
        for i, wait_s in enumerate(waits):
            try:
                _frame, t1, reply = await st.link.send(opcode, args, wait_s, on_sent=self._on_sent)
            except CommandFailed as exc:
                last = exc
                if not st.link.connected:
                    break
                continue
            if reply.get("type") == "ack" and reply.get("status") == codec.ACK_BUSY and i + 1 < tries:
                # the node's command queue was full (our own retries can fill it): ask again shortly
                last = CommandFailed("node %d stayed busy (%s)" % (st.node_id, reply.get("message", "")))
                await asyncio.sleep(0.1 * (i + 1))
                continue
            return t1, reply
        raise last

    async def _configure(self, st):
        c = self.config
        # 0 means "unchanged" in C_CONFIGURE: switching something off takes a flag
        flags = (codec.CFG_POWERLINE_OFF if not c["powerline_hz"] else 0) | (codec.CFG_IMU_OFF if not c["imu_hz"] else 0)
        args = codec.configure_args(c["emg_hz"], c["highpass_hz"], c["powerline_hz"], c["imu_hz"], label=st.map.short_label(), flags=flags)
        _t1, reply = await self._command(st, codec.C_CONFIGURE, args, timeout_s=SETUP_REPLY_S,
                                         first_timeout_s=SETUP_FIRST_REPLY_S)
        if reply.get("type") == "ack" and reply["status"] == codec.ACK_STATE:
            # still streaming from an earlier session that never stopped it (a host that died,
            # a STOP that never arrived): stop it, then configure
            self._event("stale_stream_stopped", node_id=st.node_id)
            try:
                await self._command(st, codec.C_STOP, timeout_s=SETUP_REPLY_S, first_timeout_s=SETUP_FIRST_REPLY_S)
            except CommandFailed:
                pass  # a node busy flushing its backlog may miss it: CONFIGURE below tells
            _t1, reply = await self._command(st, codec.C_CONFIGURE, args, timeout_s=SETUP_REPLY_S,
                                             first_timeout_s=SETUP_FIRST_REPLY_S)
        if reply.get("type") != "ack" or reply["status"] != codec.ACK_OK:
            raise UserError("node %d refused the configuration (%s: %s); check the node's firmware version"
                            % (st.node_id, codec.ACK_NAMES.get(reply.get("status"), reply.get("status")), reply.get("message", "")))
        # The node's own status (scale, filters) right away: a session stopped before its first
        # periodic status frame still knows how to scale its EMG (manifest: status_read).
        status = await st.link.read_status()
        if status is not None and status.get("type") == "status":
            st.status = status
            st.nv_per_lsb = status.get("nv_per_lsb") or st.nv_per_lsb
            self._event("status_read", node_id=st.node_id, nv_per_lsb=status.get("nv_per_lsb"),
                        emg_hz=status.get("emg_hz"), imu_hz=status.get("imu_hz"), firmware=list(status.get("firmware") or ()))

    async def _sync_once(self, st):
        try:
            _frame, t1, reply = await st.link.send(codec.C_SYNC, b"", None, on_sent=self._on_sent)
        except CommandFailed:
            return False
        if reply.get("type") != "sync":
            return False
        t4 = reply["recv_us"]
        t2, t3 = reply["t2_us"], reply["t3_us"]
        self.log.sync_exchange(st.node_id, t4, t1, t2, t3, t4)
        st.clock.add(t1, t2, t3, t4)
        return True

    # ------------------------------------------------------------ callbacks (event loop, synchronous)

    def _event(self, event, **fields):
        """A recorder event: into raw.log, and to the live sinks."""
        t = self.clock_us()
        self.log.event(t, event, **fields)
        self.sinks.event(t, event, fields)

    def _sink_failed(self, sink, error):
        self.log.event(self.clock_us(), "sink_failed", sink=sink, error=error)

    def _task_failed(self, name, exc):
        self.log.event(self.clock_us(), "task_failed", task=name, error="%s: %s" % (type(exc).__name__, exc))

    def _on_sent(self, node_id, t_us, frame):
        self.log.append(rawlog.K_SENT, node_id, t_us, frame)

    def _on_reply(self, node_id, t_us, frame):
        self.log.append(rawlog.K_REPLY, node_id, t_us, frame)

    def _on_data(self, node_id, t_us, frame):
        self.log.append(rawlog.K_DATA, node_id, t_us, frame)
        st = self.nodes.get(node_id)
        if st is None:
            return
        try:
            ftype, _nid, enc, count, seq, _t0 = codec.check_frame(frame)
        except codec.WireError:
            return  # logged; the loader reports it; the seq will be asked for again
        how = st.tracker.add(seq, t_us / 1e6)
        if ftype == codec.T_EMG:
            ch = (enc >> 4) + 1
            codes = np.frombuffer(frame, dtype="<i2", count=count * ch, offset=codec.HEADER_SIZE)
            rms = float(np.sqrt(np.mean(np.square(codes[::ch], dtype=np.float64))))
            st.live.add_emg(t_us, rms, count, how == "new")
        elif ftype == codec.T_STATUS:
            try:
                st.status = codec.decode_frame(frame)
                st.nv_per_lsb = st.status["nv_per_lsb"] or st.nv_per_lsb
                lead_off = bool(st.status["flags"] & codec.F_LEAD_OFF)
                if lead_off != st.lead_off and how == "new" and self.sinks:
                    self._event("lead_off", node_id=node_id, on=lead_off)  # live consumers (LSL markers)
                st.lead_off = lead_off
            except codec.WireError:
                pass
            return
        if self.sinks and how != "duplicate":
            self.sinks.frame(node_id, frame, st.clock.fit, st.nv_per_lsb, self.config["emg_hz"], self.config["imu_hz"])

    def _on_disconnect(self, node_id):
        st = self.nodes[node_id]
        st.disconnects += 1
        self._event("disconnected", node_id=node_id)
        if self.running and (st.reconnect_task is None or st.reconnect_task.done()):
            st.reconnect_task = self.owner.spawn(self._reconnect(st), name="reconnect-%d" % node_id)

    # ------------------------------------------------------------ running tasks

    async def _reconnect(self, st):
        attempt = 0
        while self.running:
            attempt += 1
            self._event("reconnecting", node_id=st.node_id, attempt=attempt)
            try:
                found = await self._find([st.node_id], 3.0)
            except UserError:
                found = {}
            if not self.running:
                return
            if st.node_id in found:
                st.found = found[st.node_id]
                st.checking = True  # no resend of this boot's seqs until we know it is the same boot
                try:
                    try:
                        await self._connect(st, attempts=1)
                    except CommandFailed:
                        await asyncio.sleep(0.5)
                        continue
                    if not self.running:
                        return  # the link is in st.link: the end of the recording disconnects it
                    status = await st.link.read_status()
                    is_status = bool(status and status.get("type") == "status")
                    streaming = is_status and bool(status["flags"] & codec.F_STREAMING)
                    if is_status and not streaming and st.started and not self.stopping:
                        # a link loss leaves a started node streaming; only a reboot forgets it
                        self._rebooted(st)
                    if not streaming and not self.stopping:
                        try:
                            _t1, reply = await self._command(st, codec.C_START)
                            fresh = reply.get("status") == codec.ACK_OK and not reply.get("message")
                            if fresh:
                                st.started = True
                                st.tracker.expect_from(reply.get("value"), self.clock_us() / 1e6)
                            self._event("started", node_id=st.node_id, ack_status=reply.get("status"), ack_value=reply.get("value"),
                                        first_seq=reply.get("value") if fresh else None, restart=True)
                        except CommandFailed:
                            pass
                finally:
                    st.checking = False
                # fresh sync exchanges right away: the link timing changed
                for _ in range(5):
                    if not self.running:
                        return
                    await self._sync_once(st)
                return
            await asyncio.sleep(0.2)

    def _rebooted(self, st):
        """The node rebooted: its seq restarted at 0 and its frame store is empty. What the
        old boot still owed is an explicit gap; the new boot gets its own seq tracker."""
        old = st.tracker
        for first, last in ranges_of(sorted(old.missing)):
            old.mark_gone(first, last, "rebooted")
        self._log_new_gone(st)  # logged before "rebooted": they belong to the old boot (logscan)
        st.past_trackers.append(old)
        st.epoch += 1
        st.tracker = SeqTracker()
        # the new boot numbers its frames from 0 and stores them streaming or not: the frames
        # before START's first seq are asked for like any loss (what the node evicted is a gap)
        st.tracker.expect_from(0, self.clock_us() / 1e6)
        st.gone_frames = 0
        st.started = False
        self._event("rebooted", node_id=st.node_id, epoch=st.epoch, old_next_seq=old.next_seq)

    async def _sync_loop(self, st):
        while self.running:
            await asyncio.sleep(self.sync_period_s * random.uniform(0.6, 1.4))
            if self.running and st.link is not None and st.link.connected and not st.hold:
                await self._sync_once(st)

    async def _resend_loop(self, st):
        while self.running:
            await asyncio.sleep(self.resend_period_s)
            if not self.running or st.link is None or not st.link.connected or st.hold or st.checking:
                continue
            now_s = self.clock_us() / 1e6
            for first, last in st.tracker.plan(now_s):
                self._event("resend", node_id=st.node_id, first=first, last=last)
                self.owner.spawn(self._resend(st, st.tracker, first, last), name="resend-%d-%d" % (st.node_id, first))
            # frames declared lost for lack of any answer
            self._log_new_gone(st)

    async def _resend(self, st, tracker, first, last):
        """tracker: the seq tracker of the boot the request was planned for."""
        try:
            _frame, _t1, reply = await st.link.send(codec.C_RESEND, codec.resend_args(first, last), None, on_sent=self._on_sent)
        except CommandFailed:
            return  # the planner asks again after retry_s
        if tracker is not st.tracker:
            return  # the node rebooted meanwhile: that boot's missing frames are already a gap
        if reply.get("type") == "ack" and reply["status"] == codec.ACK_BUSY:
            tracker.defer(first, last, self.clock_us() / 1e6)  # the node's resend queue is full: ask again soon
        elif reply.get("type") == "ack" and reply["status"] == codec.ACK_GONE:
            # value: the oldest seq the node still holds, when it says so; else the whole range is gone
            v = reply.get("value", 0)
            upto = (v - 1) if first < v <= last + 1 else last
            tracker.mark_gone(first, min(upto, last), "gone")
            self._log_new_gone(st)

    def _log_new_gone(self, st):
        while st.gone_frames < len(st.tracker.gone):
            a, b, reason = st.tracker.gone[st.gone_frames]
            st.gone_frames += 1
            self._event("gone", node_id=st.node_id, first=a, last=b, reason=reason)

    async def _flush_loop(self):
        """fsync raw.log every 0.5 s from a worker thread (never blocks reception)."""
        while self.log.fd is not None and self.log.error is None:
            await asyncio.sleep(0.5)
            if self.log.dirty:
                await asyncio.to_thread(self.log.sync)

    async def _progress_loop(self):
        while self.running:
            await asyncio.sleep(0.5)
            if self.sinks:
                for st in self.nodes.values():
                    st.clock.refit()  # the live clock estimate sinks time their blocks with
            if self.progress is not None and self.running:
                self.progress(self.live_snapshot())

    def live_snapshot(self):
        """The live view (see snapshot.py for the keys): phase, elapsed time, one row per node."""
        return build_snapshot(self.phase, self.nodes.values(), self.clock_us(), self.t_start, self.seconds, self.stopping)

    snapshot = live_snapshot  # the older name

    # ------------------------------------------------------------ the session

    async def run(self, stop_event=None):
        """Record until the requested seconds, stop_event, or cancellation; returns the manifest.

        A stop (stop_event or cancellation) in any phase closes the session as "stopped"."""
        stop_event = self.stop_event = stop_event or asyncio.Event()
        self.backend.check_ready()  # e.g. the simulator's clock needs its world file
        self._open()
        self.owner = TaskOwner(on_error=self._task_failed)
        self.owner.spawn(self._flush_loop(), name="flush")
        self.fatal = None
        status = "failed"
        man = None
        try:
            try:
                await self._unless_stopped(self._setup(), stop_event)
            except StoppedBeforeStart:
                self.user_stop = True
                self.end_reason = "stopped by the user before recording started (%s)" % self.phase
                status = "stopped"
            else:
                self._start_recording()
                status = await self._wait_end(stop_event)
                await self._stop_nodes()
                await self._drain()
        except asyncio.CancelledError:
            status = "stopped"
            self.end_reason = "cancelled"
            raise
        except UserError as exc:
            self.end_reason = str(exc)
            raise
        except CommandFailed as exc:
            self.end_reason = str(exc)
            raise UserError(str(exc))
        finally:
            man = await self._close(status)
        return man

    async def _all(self, coros):
        """Run coros together; the first failure cancels the rest and is raised as itself."""
        try:
            async with asyncio.TaskGroup() as tg:
                for c in coros:
                    tg.create_task(c)
        except BaseExceptionGroup as eg:
            raise _first_leaf(eg) from None

    async def _setup(self):
        self._set_phase("scanning")
        found = await self._find(self.nodes, self.scan_s)
        missing = sorted(set(self.nodes) - set(found))
        if missing:
            raise UserError("node(s) %s not found in %.0f s of scanning (found: %s); check they are on and in range, or fix --map"
                            % (", ".join(map(str, missing)), self.scan_s, ", ".join(map(str, sorted(found))) or "none"))
        for nid, st in self.nodes.items():
            st.found = found[nid]
        self._set_phase("connecting")
        await self._all(self._connect(st) for st in self.nodes.values())
        self._set_phase("configuring")
        await self._all(self._configure(st) for st in self.nodes.values())
        self._set_phase("syncing")
        await self._all(self._warm_sync(st) for st in self.nodes.values())

    async def _unless_stopped(self, coro, stop_event):
        """Await coro unless stop_event is set first: then cancel it (bounded) and raise StoppedBeforeStart."""
        task = self.owner.spawn(coro, name="setup")
        stopper = asyncio.ensure_future(stop_event.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            stopper.cancel()
        if task in done:
            return task.result()
        task.cancel()
        await asyncio.wait({task}, timeout=SETUP_CANCEL_BOUND_S)
        raise StoppedBeforeStart()

    def _start_recording(self):
        self.running = True
        self.t_start = self.clock_us()
        self._set_phase("recording")
        self._start_sinks()
        self.log.event(self.t_start, "start_sent")
        self.sinks.event(self.t_start, "start_sent", {})
        for st in self.nodes.values():
            self.owner.spawn(self._start_node(st), name="start-%d" % st.node_id)
            self.owner.spawn(self._sync_loop(st), name="sync-%d" % st.node_id)
            self.owner.spawn(self._resend_loop(st), name="resend-loop-%d" % st.node_id)
        self.owner.spawn(self._progress_loop(), name="progress")

    def _set_phase(self, phase):
        """Where the recording is (live_snapshot()["phase"]); logged, so raw.log tells where a stop came."""
        self.phase = phase
        self._event("phase", phase=phase)

    def _start_sinks(self):
        if not self.sinks:
            return
        for st in self.nodes.values():
            st.clock.refit()  # from the warm-sync exchanges: blocks can be timed from the first frame
        self.sinks.start({
            "session_id": self.session_id, "start_host_us": self.t_start, "backend": self.backend.describe(),
            "config": dict(self.config),
            "nodes": [{"node_id": m.node_id, "label": m.label, "side": m.side, "muscle": m.muscle} for m in self.maps],
        })

    async def _start_node(self, st):
        """START one node; a node that does not answer is retried in the background instead of failing the session."""
        while self.running and not self.stopping:
            try:
                _t1, reply = await self._command(st, codec.C_START, tries=5)
            except CommandFailed as exc:
                self._event("start_retry", node_id=st.node_id, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if self.stopping:
                return  # STOP went out meanwhile: the STOP ack tells where the stream ended
            if reply.get("status") != codec.ACK_OK:
                self.fatal = UserError("node %d refused to start (%s: %s)" % (st.node_id, codec.ACK_NAMES.get(reply.get("status")), reply.get("message", "")))
                return
            st.started = True
            first = reply.get("value")
            fresh = not reply.get("message")  # "already streaming": an earlier START got through, its ack did not
            if fresh:
                # START's ack value is the seq of the first frame the node streams
                st.tracker.expect_from(first, self.clock_us() / 1e6)
            self._event("started", node_id=st.node_id, ack_status=reply.get("status"), ack_value=first,
                        first_seq=first if fresh else None)
            return

    async def _warm_sync(self, st):
        for _ in range(8):
            await self._sync_once(st)

    async def _wait_end(self, stop_event):
        """'complete' when the requested seconds have passed, 'stopped' on stop_event; UserError on a fatal fault."""
        while not stop_event.is_set():
            if self.log.error is not None:
                raise UserError(self._log_error_text())
            if self.fatal is not None:
                raise self.fatal
            if self.seconds is not None and self.clock_us() - self.t_start >= self.seconds * 1e6:
                self.end_reason = "requested duration reached"
                return "complete"
            await asyncio.sleep(0.05)
        self.user_stop = True
        self.end_reason = "stopped by the user"
        return "stopped"

    def _log_error_text(self):
        e = self.log.error
        return ("cannot write %s (%s): recording stopped, everything written before is kept; "
                "free disk space and record again" % (self.log.path, getattr(e, "strerror", None) or e))

    def _user_stopped(self):
        """The user asked to stop (now or earlier): the end is kept short from here on."""
        return self.user_stop or self.stop_event.is_set()

    async def _stop_nodes(self):
        """STOP to every connected node, all at once; a node not done within the bound is logged and left.

        The bound is STOP_BOUND_S, or STOP_USER_BOUND_S once the user has asked to stop."""
        self.stopping = True
        self.stop_sent = True
        self._set_phase("stopping")
        t_stop = self.clock_us()
        self.log.event(t_stop, "stop_sent")
        self.sinks.event(t_stop, "stop_sent", {})
        tasks = {}
        for st in self.nodes.values():
            if st.link is None or not st.link.connected:
                if st.link is not None or self.t_start is not None:
                    self._event("stop_not_sent", node_id=st.node_id, reason="not connected")
                continue
            t = self.owner.spawn(self._stop_one(st), name="stop-%d" % st.node_id)
            if t is not None:
                tasks[t] = st
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        pending = set(tasks)
        while pending:
            left = (STOP_USER_BOUND_S if self._user_stopped() else STOP_BOUND_S) - (loop.time() - t0)
            if left <= 0:
                break
            _done, pending = await asyncio.wait(pending, timeout=min(left, 0.1))
        for t in pending:
            t.cancel()
            self._event("stop_unanswered", node_id=tasks[t].node_id)

    async def _stop_one(self, st):
        st.hold = True
        try:
            _t1, reply = await self._command(st, codec.C_STOP, tries=3)
        except CommandFailed as exc:
            self._event("stop_unanswered", node_id=st.node_id, error=str(exc))
            return
        finally:
            st.hold = False
        # the firmware's STOP ack carries its next data seq: frames below it were sent
        v = reply.get("value", 0)
        tr = st.tracker
        plausible = reply.get("status") == codec.ACK_OK and tr.next_seq is not None and tr.next_seq <= v <= tr.next_seq + 100000
        self._event("stopped", node_id=st.node_id, ack_status=reply.get("status"), ack_value=v,
                    next_seq=v if plausible else None)
        if plausible:
            tr.expect_until(v, self.clock_us() / 1e6)

    def _drain_limit_s(self):
        return min(self.drain_s, USER_DRAIN_S) if self._user_stopped() else self.drain_s

    async def _drain(self):
        """After STOP: keep asking for missing frames until none are pending (or the drain time)."""
        self._set_phase("draining")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        now_s = self.clock_us() / 1e6
        for st in self.nodes.values():
            st.tracker.rush(now_s)  # the live stream has stopped: ask for everything now
        while loop.time() - t0 < self._drain_limit_s():  # drain_s is re-read: a second Ctrl-C sets it to 0
            if self.log.error is not None or all(st.tracker.pending() == 0 for st in self.nodes.values()):
                return
            await asyncio.sleep(0.1)

    async def _close(self, status):
        """Tell nodes to stop (if not yet), end every task, disconnect, write session_end: all bounded.

        A cancellation arriving meanwhile is held until session_end is written, then re-raised."""
        cancelled = False
        try:
            if not self.stop_sent and any(st.link is not None and st.link.connected for st in self.nodes.values()):
                self.user_stop = True  # an error or a cancellation: keep the end short
                await self._stop_nodes()
        except asyncio.CancelledError:
            cancelled = True
        self.running = False
        try:
            stuck = await self.owner.close(CLOSE_BOUND_S)
            if stuck:
                self.log.event(self.clock_us(), "tasks_abandoned", tasks=stuck)
            links = [st.link for st in self.nodes.values() if st.link is not None]
            if links:
                ok, _ = await bounded(asyncio.gather(*(lk.disconnect() for lk in links), return_exceptions=True), CLOSE_BOUND_S)
                if not ok:
                    self.log.event(self.clock_us(), "disconnect_unfinished")
        except asyncio.CancelledError:
            cancelled = True
        self._event("session_end", status=status, reason=self.end_reason or status)
        self.phase = "closed"
        self.log.close()
        self.sinks.close()
        man = None
        if self.t_start is None and not self.user_stop:
            # Failed before any node was started (no node found, refused config): nothing was
            # recorded, so leave no session behind to block this --out.
            self._remove_empty_session()
        else:
            try:
                man = self._write_manifest()
            except Exception as exc:  # never mask the session's own outcome; raw.log has everything
                man = {"status": "unsummarised", "nodes": [],
                       "end_reason": "could not write session.json: %r; run `myostride record --rebuild %s`" % (exc, self.out)}
        if cancelled:
            raise asyncio.CancelledError()
        return man

    def _remove_empty_session(self):
        for name in (rawlog.LOG_NAME, manifest_mod.MANIFEST_NAME):
            try:
                (self.out / name).unlink()
            except FileNotFoundError:
                pass
        if self.created_dir:
            try:
                self.out.rmdir()
            except OSError:
                pass  # something else is in there: leave the folder


def _first_leaf(eg):
    """The first real exception in a (nested) exception group; cancellations last."""
    leaves = []
    stack = [eg]
    while stack:
        e = stack.pop(0)
        if isinstance(e, BaseExceptionGroup):
            stack[0:0] = list(e.exceptions)
        else:
            leaves.append(e)
    real = [e for e in leaves if not isinstance(e, asyncio.CancelledError)]
    return (real or leaves)[0]


async def record_session(out_dir, mapping, seconds, backend=None, config=None, progress=None, world=None, stop_event=None, **kw):
    """Record a session; returns its manifest (dict). See Recorder for the options (backend: a Backend)."""
    rec = Recorder(out_dir, mapping, seconds, backend=backend, config=config, progress=progress, world=world, **kw)
    return await rec.run(stop_event)
