"""Record a session from up to 12 nodes: connect, configure, sync, start, stream, recover, stop.

    backend = resolve_backend("sim", world="sim/world.json")   # acquire/backends.py
    manifest = await record_session("trial01", ["1=left:tibialis_anterior", ...], seconds=60, backend=backend)

Everything received is appended to raw.log the moment it arrives (see
rawlog.py); session.json is derived from that log at the end (and by
load_session() if the recorder dies). Per node, concurrent tasks send
time-sync pings and ask for resends of missing frames; a node that drops
its link is found again by its id and reconnected, and the missing frames
are asked for like any other loss. Live consumers (LSL, the console) get
decoded blocks through sinks (sinks.py).
"""

import asyncio
import random
import struct
import uuid
from pathlib import Path

import numpy as np

from myowire import codec

from .. import __version__
from ..boards import known_boards
from ..errors import UserError
from . import logscan, manifest as manifest_mod, rawlog
from .backends import as_backend
from .gaps import SeqTracker
from .link import CommandFailed, NodeLink
from .mapping import parse_mapping
from .scanner import scan
from .sinks import SinkHub
from .sync import OnlineClock

_HDR = struct.Struct("<BBBBIQ")

DEFAULT_CONFIG = {"emg_hz": 2000, "highpass_hz": 20, "powerline_hz": 0, "imu_hz": 100}
ALLOWED_EMG_HZ = (1000, 1926, 2000)
# Simulated nodes model the reference design's front end too.
DEFAULT_BOARD = "myostride-ref-s3"
# A node that cannot take STOP in this time (link lost mid-command) is left to the drain:
# what it sent is asked for by seq; nothing waits on it forever.
STOP_TIMEOUT_S = 10.0


def check_config(config):
    cfg = dict(DEFAULT_CONFIG)
    cfg.update({k: v for k, v in (config or {}).items() if v is not None})
    unknown = set(cfg) - set(DEFAULT_CONFIG)
    if unknown:
        raise UserError("unknown recording setting(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(DEFAULT_CONFIG)))
    if cfg["emg_hz"] not in ALLOWED_EMG_HZ:
        raise UserError("EMG rate %s Hz is not supported; use one of %s" % (cfg["emg_hz"], ", ".join(map(str, ALLOWED_EMG_HZ))))
    if not 10 <= cfg["highpass_hz"] <= 20:
        raise UserError("high-pass %s Hz is outside 10-20 Hz (SENIAM); choose 10-20" % cfg["highpass_hz"])
    if cfg["powerline_hz"] not in (0, 50, 60):
        raise UserError("powerline %s Hz: use 0 (off), 50 or 60" % cfg["powerline_hz"])
    if cfg["imu_hz"] not in (0, 100, 200):
        raise UserError("IMU rate %s Hz: use 0 (off), 100 or 200" % cfg["imu_hz"])
    return cfg


def check_board(board):
    """The node hardware (a hardware/boards/<name>.json definition) the recorded nodes are built on."""
    if not board:
        return None
    known = known_boards()
    if known and board not in known:
        raise UserError("unknown board %r; known boards: %s" % (board, ", ".join(known)))
    return board


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
        self.frame_rms = []  # (recv_us, rms code units, samples) of recent EMG frames
        self.new_samples = []  # (recv_us, samples) first arrivals, for the rate
        self.connects = 0
        self.disconnects = 0
        self.reconnect_task = None
        self.started = False
        self.lead_off = False
        self.gone_frames = 0
        self.hold = False  # True while STOP is being sent: pings and resends wait


class Recorder:
    """backend: an acquire.backends.Backend (a name is resolved, with world=; default real BLE).
    sinks: live consumers of decoded blocks and events (sinks.RecorderSink)."""

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
        self.t_start = None
        self.stopping = False
        self.running = False
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

    async def _command(self, st, opcode, args=b"", timeout_s=None, tries=5):
        last = None
        for _ in range(tries):
            try:
                _frame, t1, reply = await st.link.send(opcode, args, timeout_s, on_sent=self._on_sent)
                return t1, reply
            except CommandFailed as exc:
                last = exc
                if not st.link.connected:
                    break
        raise last

    async def _configure(self, st):
        c = self.config
        # 0 means "unchanged" in C_CONFIGURE: switching something off takes a flag
        flags = (codec.CFG_POWERLINE_OFF if not c["powerline_hz"] else 0) | (codec.CFG_IMU_OFF if not c["imu_hz"] else 0)
        args = codec.configure_args(c["emg_hz"], c["highpass_hz"], c["powerline_hz"], c["imu_hz"], label=st.map.short_label(), flags=flags)
        _t1, reply = await self._command(st, codec.C_CONFIGURE, args)
        if reply.get("type") != "ack" or reply["status"] != codec.ACK_OK:
            raise UserError("node %d refused the configuration (%s: %s); check the node's firmware version"
                            % (st.node_id, codec.ACK_NAMES.get(reply.get("status"), reply.get("status")), reply.get("message", "")))

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
            codec.check_frame(frame)
        except codec.WireError:
            return  # logged; the loader reports it; the seq will be asked for again
        vt, _nid, enc, count, seq, _t0 = _HDR.unpack_from(frame, 0)
        how = st.tracker.add(seq, t_us / 1e6)
        ftype = vt & 0x0F
        if ftype == codec.T_EMG:
            ch = (enc >> 4) + 1
            codes = np.frombuffer(frame, dtype="<i2", count=count * ch, offset=codec.HEADER_SIZE)
            rms = float(np.sqrt(np.mean(np.square(codes[::ch], dtype=np.float64))))
            st.frame_rms.append((t_us, rms, count))
            if how == "new":
                st.new_samples.append((t_us, count))
        elif ftype == codec.T_STATUS:
            try:
                st.status = codec.decode_frame(frame)
                st.nv_per_lsb = st.status["nv_per_lsb"] or st.nv_per_lsb
                st.lead_off = bool(st.status["flags"] & codec.F_LEAD_OFF)
            except codec.WireError:
                pass
            return
        if self.sinks:
            self.sinks.frame(node_id, frame, st.clock.fit, st.nv_per_lsb, self.config["emg_hz"], self.config["imu_hz"])

    def _on_disconnect(self, node_id):
        st = self.nodes[node_id]
        st.disconnects += 1
        self._event("disconnected", node_id=node_id)
        if self.running and (st.reconnect_task is None or st.reconnect_task.done()):
            st.reconnect_task = asyncio.get_running_loop().create_task(self._reconnect(st))

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
            if st.node_id in found:
                st.found = found[st.node_id]
                try:
                    await self._connect(st, attempts=1)
                except CommandFailed:
                    await asyncio.sleep(0.5)
                    continue
                status = await st.link.read_status()
                streaming = bool(status and status.get("type") == "status" and status["flags"] & codec.F_STREAMING)
                if not streaming and not self.stopping:
                    try:
                        _t1, reply = await self._command(st, codec.C_START)
                        self._event("started", node_id=st.node_id, ack_status=reply.get("status"), ack_value=reply.get("value"), restart=True)
                    except CommandFailed:
                        pass
                # fresh sync exchanges right away: the link timing changed
                for _ in range(5):
                    await self._sync_once(st)
                return
            await asyncio.sleep(0.2)

    async def _sync_loop(self, st):
        while True:
            await asyncio.sleep(self.sync_period_s * random.uniform(0.6, 1.4))
            if st.link is not None and st.link.connected and not st.hold:
                await self._sync_once(st)

    async def _resend_loop(self, st):
        while True:
            await asyncio.sleep(self.resend_period_s)
            if st.link is None or not st.link.connected or st.hold:
                continue
            now_s = self.clock_us() / 1e6
            for first, last in st.tracker.plan(now_s):
                self._event("resend", node_id=st.node_id, first=first, last=last)
                asyncio.get_running_loop().create_task(self._resend(st, first, last))
            # frames declared lost for lack of any answer
            self._log_new_gone(st)

    async def _resend(self, st, first, last):
        try:
            _frame, _t1, reply = await st.link.send(codec.C_RESEND, codec.resend_args(first, last), None, on_sent=self._on_sent)
        except CommandFailed:
            return  # the planner asks again after retry_s
        if reply.get("type") == "ack" and reply["status"] == codec.ACK_BUSY:
            st.tracker.defer(first, last, self.clock_us() / 1e6)  # the node's resend queue is full: ask again soon
        elif reply.get("type") == "ack" and reply["status"] == codec.ACK_GONE:
            # value: the oldest seq the node still holds, when it says so; else the whole range is gone
            v = reply.get("value", 0)
            upto = (v - 1) if first < v <= last + 1 else last
            st.tracker.mark_gone(first, min(upto, last), "gone")
            self._log_new_gone(st)

    def _log_new_gone(self, st):
        while st.gone_frames < len(st.tracker.gone):
            a, b, reason = st.tracker.gone[st.gone_frames]
            st.gone_frames += 1
            self._event("gone", node_id=st.node_id, first=a, last=b, reason=reason)

    async def _flush_loop(self):
        """fsync raw.log every 0.5 s from a worker thread (never blocks reception)."""
        while True:
            await asyncio.sleep(0.5)
            if self.log.dirty:
                await asyncio.to_thread(self.log.sync)

    async def _progress_loop(self):
        while True:
            await asyncio.sleep(0.5)
            if self.sinks:
                for st in self.nodes.values():
                    st.clock.refit()  # the live clock estimate sinks time their blocks with
            if self.progress is not None:
                self.progress(self.snapshot())

    def snapshot(self):
        now = self.clock_us()
        elapsed = (now - self.t_start) / 1e6 if self.t_start else 0.0
        rows = []
        for st in self.nodes.values():
            cut = now - 1_000_000
            st.new_samples = [x for x in st.new_samples if x[0] >= cut - 1_000_000]
            st.frame_rms = [x for x in st.frame_rms if x[0] >= now - 3_000_000]
            rate = sum(c for t, c in st.new_samples if t >= cut)
            nv = (st.nv_per_lsb or 0) / 1000.0
            recent = [r for t, r, _c in st.frame_rms if t >= cut]
            rms_uv = float(np.sqrt(np.mean(np.square(recent)))) * nv if recent and nv else None
            allr = [r for _t, r, _c in st.frame_rms]
            noise_uv = float(np.percentile(allr, 10)) * nv if allr and nv else None
            tr = st.tracker
            exp = tr.expected()
            first_pass_lost = (exp - (tr.received - tr.recovered)) if exp else 0
            rows.append({
                "node_id": st.node_id, "label": st.map.label, "side": st.map.side, "muscle": st.map.muscle,
                "connected": bool(st.link and st.link.connected), "rate_hz": rate,
                "loss_pct": 100.0 * first_pass_lost / exp if exp else 0.0,
                "recovered": tr.recovered, "pending": tr.pending(), "lost": tr.lost(),
                "battery_pct": (st.status or {}).get("battery_pct", st.found.battery_pct if st.found else None),
                "rms_uv": rms_uv, "noise_uv": noise_uv, "lead_off": st.lead_off,
                "sync_rtt_ms": (st.clock.rtt_median_us() or 0) / 1000.0 if st.clock.rows else None,
                "disconnects": st.disconnects,
            })
        return {"elapsed_s": elapsed, "seconds": self.seconds, "stopping": self.stopping, "nodes": rows}

    # ------------------------------------------------------------ the session

    async def run(self, stop_event=None):
        stop_event = stop_event or asyncio.Event()
        self.backend.check_ready()  # e.g. the simulator's clock needs its world file
        self._open()
        tasks = []
        status = "failed"
        try:
            found = await self._find(self.nodes, self.scan_s)
            missing = sorted(set(self.nodes) - set(found))
            if missing:
                raise UserError("node(s) %s not found in %.0f s of scanning (found: %s); check they are on and in range, or fix --map"
                                % (", ".join(map(str, missing)), self.scan_s, ", ".join(map(str, sorted(found))) or "none"))
            for nid, st in self.nodes.items():
                st.found = found[nid]
            await asyncio.gather(*(self._connect(st) for st in self.nodes.values()))
            await asyncio.gather(*(self._configure(st) for st in self.nodes.values()))
            await asyncio.gather(*(self._warm_sync(st) for st in self.nodes.values()))
            self.running = True
            self.t_start = self.clock_us()
            self._start_sinks()
            self.log.event(self.t_start, "start_sent")
            self.sinks.event(self.t_start, "start_sent", {})
            for st in self.nodes.values():
                tasks.append(asyncio.create_task(self._start_node(st, tasks)))
            tasks.append(asyncio.create_task(self._flush_loop()))
            tasks.append(asyncio.create_task(self._progress_loop()))
            status = await self._wait_end(stop_event)
            await self._stop_nodes()
            await self._drain(stop_event)
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
            self.running = False
            for t in tasks:
                t.cancel()
            for st in self.nodes.values():
                if st.reconnect_task is not None:
                    st.reconnect_task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(st.link.disconnect() for st in self.nodes.values() if st.link is not None), return_exceptions=True)
            self._event("session_end", status=status, reason=self.end_reason or status)
            self.log.close()
            self.sinks.close()
            if self.t_start is None:
                # Failed before any node was started (no node found, refused config):
                # nothing was recorded, so leave no session behind to block this --out.
                # (No return here: the exception that got us here must propagate.)
                self._remove_empty_session()
                man = None
            else:
                try:
                    man = self._write_manifest()
                except Exception as exc:  # never mask the session's own outcome; raw.log has everything
                    man = {"status": "unsummarised", "nodes": [],
                           "end_reason": "could not write session.json: %r; run `myostride record --rebuild %s`" % (exc, self.out)}
        return man

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

    async def _start_node(self, st, tasks):
        """START one node, then run its sync and resend loops; a node that does not
        answer is retried in the background instead of failing the session."""
        tasks.append(asyncio.create_task(self._sync_loop(st)))
        tasks.append(asyncio.create_task(self._resend_loop(st)))
        while self.running and not self.stopping:
            try:
                _t1, reply = await self._command(st, codec.C_START, tries=5)
            except CommandFailed as exc:
                self._event("start_retry", node_id=st.node_id, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if reply.get("status") != codec.ACK_OK:
                raise UserError("node %d refused to start (%s: %s)" % (st.node_id, codec.ACK_NAMES.get(reply.get("status")), reply.get("message", "")))
            st.started = True
            first = reply.get("value")
            fresh = not reply.get("message")  # "already streaming": an earlier START got through, its ack did not
            if fresh:
                # START's ack value is the seq of the first frame the node streams
                st.tracker.expect_from(first, self.clock_us() / 1e6)
            self._event("started", node_id=st.node_id, ack_status=reply.get("status"), ack_value=first,
                           first_seq=first if fresh else None)
            return

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

    async def _warm_sync(self, st):
        for _ in range(8):
            await self._sync_once(st)

    async def _wait_end(self, stop_event):
        while True:
            if stop_event.is_set():
                self.end_reason = "stopped by the user"
                return "stopped"
            if self.seconds is not None and self.clock_us() - self.t_start >= self.seconds * 1e6:
                self.end_reason = "requested duration reached"
                return "complete"
            try:
                await asyncio.wait_for(stop_event.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

    async def _stop_nodes(self):
        self.stopping = True
        t_stop = self.clock_us()
        self.log.event(t_stop, "stop_sent")
        self.sinks.event(t_stop, "stop_sent", {})

        async def stop_one(st):
            if st.link is None or not st.link.connected:
                return
            st.hold = True
            try:
                _t1, reply = await self._command(st, codec.C_STOP)
            except CommandFailed:
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

        async def bounded(st):
            try:
                await asyncio.wait_for(stop_one(st), STOP_TIMEOUT_S)
            except asyncio.TimeoutError:
                self._event("stop_unanswered", node_id=st.node_id)

        await asyncio.gather(*(bounded(st) for st in self.nodes.values()))

    async def _drain(self, stop_event):
        """After STOP: keep asking for missing frames until none are pending (or drain_s)."""
        deadline = asyncio.get_running_loop().time() + self.drain_s
        now_s = self.clock_us() / 1e6
        for st in self.nodes.values():
            st.tracker.rush(now_s)  # the live stream has stopped: ask for everything now
        while asyncio.get_running_loop().time() < deadline:
            if all(st.tracker.pending() == 0 for st in self.nodes.values()):
                return
            await asyncio.sleep(0.1)


async def record_session(out_dir, mapping, seconds, backend=None, config=None, progress=None, world=None, stop_event=None, **kw):
    """Record a session; returns its manifest (dict). See Recorder for the options (backend: a Backend)."""
    rec = Recorder(out_dir, mapping, seconds, backend=backend, config=config, progress=progress, world=world, **kw)
    return await rec.run(stop_event)
