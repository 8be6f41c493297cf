"""The console's web app (Starlette): the page, its JSON API and the live WebSocket.

One Console object owns everything long-lived (the simulated patient, the recording child,
the live-feed task, check jobs) and ends it within a bound at shutdown (lifespan).
Handlers only call the study, radio, recording, live-feed and review modules.
"""

import asyncio
import contextlib
import hmac
import json
import re
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import __version__, muscles
from ..study.clinical import PURPOSES, SCHEMA, TRIAL_STATUSES
from ..errors import UserError
from . import radio, review
from .livefeed import LiveFeed
from .recording import TrialProcess
from .security import COOKIE
from .studies import StudyStore

STATIC = Path(__file__).resolve().parent / "static"
POLL_S = 0.05  # live feed: 20 updates a second
HISTORY_S = 10.0  # what a page that (re)opens mid-trial gets at once
MAX_TRIAL_S = 3600.0
WATCHDOG_S = 120.0  # scan + connect + STOP + drain with room for a very busy machine


class LiveTrial:
    """A recording in progress: the child, its raw.log feed and the pages watching it."""

    def __init__(self, study_id, trial_id, trial_dir, proc, clock_us, on_finish=None):
        self.on_finish = on_finish
        self.study_id, self.trial_id, self.dir, self.proc = study_id, trial_id, Path(trial_dir), proc
        self.clock_us = clock_us
        self.feed = None
        self.sockets = set()
        self.history = {}
        self.badges = {}
        self.ticks = []
        self.task = None
        self.finished = None  # {"status", ...} once the child ended
        self.display_errors = 0

    def wall_offset_us(self):
        a = time.time_ns() // 1000
        b = self.clock_us()
        c = time.time_ns() // 1000
        return (a + c) // 2 - b

    async def run(self):
        """Poll raw.log every POLL_S until the child has ended and the log is read to its end.

        A child still alive WATCHDOG_S past its trial's end is ended (raw.log keeps everything;
        load_session rebuilds the manifest): a stuck recorder must not hold the console forever.
        """
        self.feed = LiveFeed(self.dir / "raw.log", wall_offset_us=self.wall_offset_us())
        last_offset = time.monotonic()
        seconds = self.proc.spec.get("seconds")
        deadline = time.monotonic() + seconds + WATCHDOG_S if seconds else None
        while self.finished is None:  # ends when the recorder process has ended (or is ended by the watchdog)
            if deadline is not None and time.monotonic() > deadline and self.proc.running:
                self.proc.request_stop()
                await self.proc.wait(bound_s=10.0)
            if time.monotonic() - last_offset > 5.0:
                self.feed.wall_offset_us = self.wall_offset_us()
                last_offset = time.monotonic()
            upd = self._poll()
            self._keep(upd)
            msg = self.message(upd)
            if self.sockets:
                await self._send(json.dumps(msg))
            if not self.proc.running and self.proc.proc is not None:
                await self.proc.wait()
                upd = self._poll()
                self._keep(upd)
                self.finished = self.outcome()
                if self.on_finish is not None:
                    self.on_finish(self.finished)
                await self._send(json.dumps(self.message(upd)))
                return
            await asyncio.sleep(POLL_S)

    def _poll(self):
        """The feed's update; a display fault skips one update (the recording is not affected)."""
        try:
            return self.feed.poll()
        except Exception as exc:  # a bug in the display must not end the watch of a trial
            self.display_errors += 1
            if self.display_errors == 1:
                print("console: live display error (recording unaffected): %s" % type(exc).__name__, flush=True)
            return {"nodes": {}, "badges": self.badges, "ticks": []}

    def outcome(self):
        man = {}
        with contextlib.suppress(OSError, ValueError):
            man = json.loads((self.dir / "session.json").read_text())
        if man.get("status") == "recording":  # the child ended without closing: recover from raw.log
            from ..session import load_session

            with contextlib.suppress(Exception):
                man = load_session(self.dir).meta
        return {"status": man.get("status") or ("failed" if self.proc.error else "unknown"),
                "end_reason": man.get("end_reason") or self.proc.error, "duration_s": man.get("duration_s"),
                "error": self.proc.error}

    def _keep(self, upd):
        for nid, rows in upd["nodes"].items():
            h = self.history.setdefault(nid, [])
            h.extend(rows)
            if h and h[-1][0] - h[0][0] > HISTORY_S + 1:
                cut = h[-1][0] - HISTORY_S
                self.history[nid] = [r for r in h if r[0] >= cut]
        self.badges = upd["badges"]
        self.ticks = [t for t in self.ticks + upd["ticks"] if not self.history or t["t_s"] > self._newest() - HISTORY_S]

    def _newest(self):
        return max((h[-1][0] for h in self.history.values() if h), default=0.0)

    def _badges(self):
        rows = {r["node_id"]: r for r in ((self.proc.snapshot or {}).get("nodes") or [])}
        out = {}
        for nid, b in self.badges.items():
            r = rows.get(nid, {})
            out[nid] = dict(b, connected=r.get("connected", b.get("connected")), recovered=r.get("recovered"),
                            pending=r.get("pending"), lost=r.get("lost"), rate_hz=r.get("rate_hz"),
                            loss_pct=r.get("loss_pct"), battery_pct=b.get("battery_pct") if b.get("battery_pct") is not None else r.get("battery_pct"),
                            lead_off=bool(b.get("lead_off") or r.get("lead_off")))
        return out

    def message(self, upd, full=False):
        snap = self.proc.snapshot or {}
        msg = {"type": "live", "study": self.study_id, "trial": self.trial_id,
               "elapsed_s": snap.get("elapsed_s"), "seconds": snap.get("seconds"), "stopping": snap.get("stopping"),
               "phase": snap.get("phase"),
               "recording": self.finished is None, "finished": self.finished, "badges": self._badges(),
               "nodes": self.history if full else upd["nodes"], "ticks": self.ticks if full else upd["ticks"],
               "server_wall_ms": time.time() * 1000.0}
        if "arrival_wall_ms" in upd:
            msg["arrival_wall_ms"] = upd["arrival_wall_ms"]
        return msg

    async def _send(self, text):
        dead = []
        for ws in list(self.sockets):
            try:
                async with asyncio.timeout(2.0):
                    await ws.send_text(text)
            except Exception:  # a closed tab: forget it, the recording goes on
                dead.append(ws)
        for ws in dead:
            self.sockets.discard(ws)


class Console:
    """Server state: the studies, the backend, at most one recording, background jobs."""

    def __init__(self, data_dir, backend, guard, sim_nodes=4, sim_seconds=900.0, sim_condition="normal", sim_seed=1):
        self.data = Path(data_dir)
        self.store = StudyStore(self.data)
        self.backend = backend
        self.guard = guard
        self.sim_opts = {"nodes": sim_nodes, "seconds": sim_seconds, "condition": sim_condition, "seed": sim_seed}
        self.live = None
        self.jobs = {}
        self.perf = []  # page draw reports (bench_console)

    # ------------------------------------------------------------ lifecycle

    async def shutdown(self):
        for t in self.jobs.values():
            t.cancel()
        await asyncio.gather(*self.jobs.values(), return_exceptions=True)
        if self.live is not None:
            await self.live.proc.close()
            if self.live.task is not None:
                try:
                    async with asyncio.timeout(5.0):
                        await self.live.task
                except (TimeoutError, Exception):
                    self.live.task.cancel()
                    await asyncio.gather(self.live.task, return_exceptions=True)
        if self.backend.sim is not None:
            await asyncio.to_thread(self.backend.sim.stop)

    # ------------------------------------------------------------ simulated patient

    async def start_sim(self, nodes=None, condition=None):
        if not self.backend.simulated:
            raise UserError("this console talks to real nodes (--backend %s); restart it with --backend sim for a simulated patient"
                            % self.backend.name)
        if self.backend.sim is not None or (self.backend.world and Path(self.backend.world).exists()):
            return self.sim_info()
        n = int(nodes or self.sim_opts["nodes"])
        if not 1 <= n <= 12:
            raise UserError("a simulated patient wears 1-12 nodes, got %d" % n)
        sim = radio.SimPatient(self.data / "simulated-patient", nodes=n, condition=condition or self.sim_opts["condition"],
                               seconds=self.sim_opts["seconds"], seed=self.sim_opts["seed"])
        world = await asyncio.to_thread(sim.start)
        self.backend.sim = sim
        self.backend.set_world(world)
        return self.sim_info()

    def sim_info(self):
        if self.backend.sim is not None:
            return dict(self.backend.sim.describe(), running=True)
        return {"running": bool(self.backend.world), "world": bool(self.backend.world)}

    # ------------------------------------------------------------ jobs

    def start_job(self, key, coro):
        old = self.jobs.get(key)
        if old is not None and not old.done():
            coro.close()
            raise UserError("that is already running; wait for it to finish")
        self.jobs[key] = asyncio.create_task(coro)

    def job_state(self, key):
        t = self.jobs.get(key)
        if t is None:
            return {"state": "none"}
        if not t.done():
            return {"state": "running"}
        if t.cancelled():
            return {"state": "failed", "error": "cancelled"}
        exc = t.exception()
        if exc is not None:
            return {"state": "failed", "error": str(exc) if isinstance(exc, UserError) else "internal error: %s" % type(exc).__name__}
        return {"state": "done", "result": t.result()}

    # ------------------------------------------------------------ recording

    async def start_trial(self, study, seconds, notes):
        if self.live is not None and self.live.finished is None:
            raise UserError("a trial is being recorded (%s); stop it before starting another" % self.live.trial_id)
        state = study.state()
        mapping = state.get("mapping") or []
        if not mapping:
            raise UserError("no nodes assigned: assign each node to a side and muscle on the Sensors page")
        if seconds is not None and not 1 <= seconds <= MAX_TRIAL_S:
            raise UserError("trial length must be 1-%d s (or empty: until Stop), got %g" % (MAX_TRIAL_S, seconds))
        out = study.next_trial_dir()
        out.mkdir()  # reserves the trial id, even if the recording fails before its first sample
        check = (state.get("checks") or [None])[-1]
        spec = {"out": str(out), "mapping": ["%d=%s:%s" % (m["node_id"], m["side"], m["muscle"]) for m in mapping],
                "seconds": seconds, **self.backend.spec(),
                "check_json": str(study.folder / "checks" / check / "check.json") if check else None}
        proc = TrialProcess(spec)
        await proc.start()
        trial = {"id": out.name, "notes": notes or "", "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "seconds": seconds, "check": check}
        state.setdefault("trials", []).append(trial)
        study.save_state(state)

        def on_finish(outcome):
            st = study.state()
            for t in st.get("trials", []):
                if t["id"] == out.name:
                    t["outcome"] = outcome
            study.save_state(st)

        self.live = LiveTrial(study.id, out.name, out, proc, self.backend.clock_us, on_finish)
        self.live.task = asyncio.create_task(self.live.run())
        return trial

    def trial_list(self, study):
        from ..acquire.rawlog import is_being_written

        out = []
        for t in study.state().get("trials", []):
            d = study.folder / "trials" / t["id"]
            man = {}
            with contextlib.suppress(OSError, ValueError):
                man = json.loads((d / "session.json").read_text())
            live = self.live is not None and self.live.study_id == study.id and self.live.trial_id == t["id"] and self.live.finished is None
            if live:
                status = "recording"
            elif is_being_written(d / "raw.log"):
                status = "recording (by another process)"
            else:
                status = man.get("status") or ("failed" if (t.get("outcome") or {}).get("error") else "empty")
            out.append(dict(t, status=status, duration_s=man.get("duration_s"),
                            end_reason=man.get("end_reason") or (t.get("outcome") or {}).get("error"),
                            nodes=[{"node_id": n["node_id"], "samples": n["samples"], "gaps": len(n.get("gaps", []))}
                                   for n in man.get("nodes", [])]))
        return out


# ---------------------------------------------------------------- request helpers

def _user_error(exc):
    return JSONResponse({"error": str(exc)}, status_code=422)


async def _body(request):
    try:
        data = await request.json()
    except ValueError:
        raise UserError("the request body is not JSON")
    if not isinstance(data, dict):
        raise UserError("the request body must be a JSON object")
    return data


def _c(request):
    return request.app.state.console


def _study(request):
    return _c(request).store.get(request.path_params["sid"])


def handler(fn):
    async def wrapped(request):
        try:
            return await fn(request)
        except UserError as exc:
            return _user_error(exc)

    wrapped.__name__ = fn.__name__
    return wrapped


# ---------------------------------------------------------------- routes

async def index(request):
    c = _c(request)
    if request.query_params.get("token"):
        if not hmac.compare_digest(request.query_params["token"], c.guard.token):
            return PlainTextResponse("wrong access token: open the address `myostride console` printed", status_code=401)
        resp = RedirectResponse("/", status_code=303)  # the token leaves the address bar and the history
        resp.set_cookie(COOKIE, c.guard.token, httponly=True, samesite="strict", path="/")
        return resp
    html = (STATIC / "index.html").read_text().replace("{{CSRF}}", c.guard.csrf).replace("{{VERSION}}", __version__)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@handler
async def api_state(request):
    c = _c(request)
    return JSONResponse({"version": __version__, "backend": c.backend.name, "simulated": c.backend.simulated,
                         "sim": c.sim_info(), "studies": c.store.list(),
                         "recording": None if c.live is None or c.live.finished else
                         {"study": c.live.study_id, "trial": c.live.trial_id}})


def _field_list(spec, prefix=""):
    out = []
    for key, kind in spec.items():
        if isinstance(kind, dict):
            out += _field_list(kind, prefix + key + ".")
        else:
            f = {"key": prefix + key, "kind": kind.split(":")[0]}
            if kind.startswith("enum:"):
                f["choices"] = kind[5:].split("|")
            out.append(f)
    return out


def placement_hints():
    """{muscle: markdown-ish text} from hardware/electrode-placement.md (the report cites the same guide)."""
    path = Path(__file__).resolve().parents[3] / "hardware" / "electrode-placement.md"
    try:
        text = path.read_text()
    except OSError:
        return {}
    hints = {}
    for m in muscles.MUSCLES:
        title = m.replace("_", " ").capitalize()
        match = re.search(r"^### %s\n(.*?)(?=^##)" % re.escape(title), text, re.S | re.M)
        if match:
            hints[m] = re.sub(r"\*\*|\*|`", "", match.group(1)).strip()
    return hints


@handler
async def api_schema(request):
    return JSONResponse({"fields": _field_list(SCHEMA), "purposes": PURPOSES, "trial_statuses": TRIAL_STATUSES,
                         "muscles": [{"id": m, "name": muscles.DISPLAY_NAMES[m]} for m in muscles.MUSCLES],
                         "sides": list(muscles.SIDES), "placement": placement_hints()})


@handler
async def api_validate(request):
    from ..study.clinical import validate_clinical

    data = await _body(request)
    return JSONResponse({"problems": validate_clinical(data.get("clinical"))})


@handler
async def api_create_study(request):
    data = await _body(request)
    study, problems = _c(request).store.create(data.get("clinical"))
    if problems:
        return JSONResponse({"problems": problems}, status_code=422)
    return JSONResponse({"id": study.id})


@handler
async def api_study(request):
    c = _c(request)
    s = _study(request)
    return JSONResponse({"id": s.id, "state": s.state(), "clinical": s.clinical(), "trials": c.trial_list(s),
                         "check": c.job_state(("check", s.id))})


@handler
async def api_put_clinical(request):
    s = _study(request)
    data = await _body(request)
    problems = s.save_clinical(data.get("clinical"))
    return JSONResponse({"problems": problems}, status_code=422 if problems else 200)


@handler
async def api_sim_start(request):
    data = await _body(request)
    return JSONResponse(await _c(request).start_sim(data.get("nodes"), data.get("condition")))


@handler
async def api_scan(request):
    c = _c(request)
    if c.backend.simulated and not c.backend.world:
        raise UserError("no simulated patient yet: start one first")
    return JSONResponse({"nodes": await radio.scan_nodes(c.backend, 3.0)})


@handler
async def api_identify(request):
    data = await _body(request)
    try:
        nid = int(data.get("node_id"))
    except (TypeError, ValueError):
        raise UserError("node_id must be a number")
    return JSONResponse(await radio.identify_node(_c(request).backend, nid))


@handler
async def api_mapping(request):
    from ..acquire.mapping import parse_mapping

    s = _study(request)
    data = await _body(request)
    items = data.get("mapping") or []
    maps = parse_mapping(["%s=%s:%s" % (m.get("node_id"), m.get("side"), m.get("muscle")) for m in items])
    state = s.state()
    state["mapping"] = [m.to_json() for m in maps]
    s.save_state(state)
    return JSONResponse({"mapping": state["mapping"]})


@handler
async def api_check(request):
    c = _c(request)
    s = _study(request)
    mapping = s.state().get("mapping") or []
    if not mapping:
        raise UserError("no nodes assigned: assign each node on the Sensors page first")
    out = s.next_check_dir()
    out.mkdir(parents=True)

    async def job():
        result = await radio.run_check(c.backend, ["%d=%s:%s" % (m["node_id"], m["side"], m["muscle"]) for m in mapping], out)
        state = s.state()
        state.setdefault("checks", []).append(out.name)
        s.save_state(state)
        return dict(result, id=out.name)

    c.start_job(("check", s.id), job())
    return JSONResponse({"state": "running", "id": out.name})


@handler
async def api_check_state(request):
    s = _study(request)
    return JSONResponse(_c(request).job_state(("check", s.id)))


@handler
async def api_start_trial(request):
    s = _study(request)
    data = await _body(request)
    seconds = data.get("seconds")
    try:
        seconds = None if seconds in (None, "") else float(seconds)
    except (TypeError, ValueError):
        raise UserError("trial length must be a number of seconds (or empty: until Stop)")
    trial = await _c(request).start_trial(s, seconds, data.get("notes"))
    return JSONResponse(trial)


@handler
async def api_stop_trial(request):
    c = _c(request)
    s = _study(request)
    tid = request.path_params["tid"]
    if c.live is None or c.live.study_id != s.id or c.live.trial_id != tid or c.live.finished is not None:
        raise UserError("trial %s is not recording" % tid)
    c.live.proc.request_stop()
    return JSONResponse({"stopping": True})


@handler
async def api_trials(request):
    s = _study(request)
    return JSONResponse({"trials": _c(request).trial_list(s)})


@handler
async def api_trial_notes(request):
    s = _study(request)
    tid = request.path_params["tid"]
    s.trial_dir(tid)
    data = await _body(request)
    state = s.state()
    for t in state.get("trials", []):
        if t["id"] == tid:
            t["notes"] = str(data.get("notes") or "")
    s.save_state(state)
    return JSONResponse({"ok": True})


@handler
async def api_review(request):
    s = _study(request)
    tid = request.path_params["tid"]
    _not_recording(_c(request), s, tid)
    return JSONResponse(await asyncio.to_thread(review.review, s, tid))


def _not_recording(c, s, tid):
    if c.live is not None and c.live.study_id == s.id and c.live.trial_id == tid and c.live.finished is None:
        raise UserError("trial %s is still being recorded; review it after it stops" % tid)


@handler
async def api_interpretation(request):
    s = _study(request)
    data = await _body(request)
    problems = s.set_interpretation(data.get("text") or "", data.get("interpreted_by"))
    return JSONResponse({"problems": problems}, status_code=422 if problems else 200)


@handler
async def api_report(request):
    s = _study(request)
    tid = request.path_params["tid"]
    _not_recording(_c(request), s, tid)
    return JSONResponse(await asyncio.to_thread(review.report, s, tid))


@handler
async def api_report_file(request):
    s = _study(request)
    tid = request.path_params["tid"]
    name = request.path_params["name"]
    if name not in review.OUTPUTS:
        raise UserError("no such report file %r" % name)
    path = s.report_dir(tid) / name
    if not path.exists():
        raise UserError("no report yet for %s; generate it on the Report page" % tid)
    download = request.query_params.get("download")
    return FileResponse(path, filename="%s-%s-%s" % (s.id, tid, name) if download else None,
                        content_disposition_type="attachment" if download else "inline")


@handler
async def api_perf(request):
    c = _c(request)
    if request.method == "POST":
        data = await _body(request)
        c.perf.extend(data.get("samples") or [])
        del c.perf[:-20000]
        return JSONResponse({"ok": True})
    return JSONResponse({"samples": c.perf})


async def ws_live(websocket: WebSocket):
    c = websocket.app.state.console
    await websocket.accept()
    live = c.live
    sid, tid = websocket.query_params.get("study"), websocket.query_params.get("trial")
    if live is None or live.study_id != sid or live.trial_id != tid:
        await websocket.send_text(json.dumps({"type": "none"}))
        await websocket.close()
        return
    await websocket.send_text(json.dumps(live.message({"nodes": {}, "ticks": []}, full=True)))
    if live.finished is not None:
        await websocket.close()
        return
    live.sockets.add(websocket)
    try:
        while True:  # ends when the page goes away (WebSocketDisconnect)
            text = await websocket.receive_text()
            with contextlib.suppress(ValueError):
                msg = json.loads(text)
                if msg.get("perf"):
                    c.perf.extend(msg["perf"])
                    del c.perf[:-20000]
    except WebSocketDisconnect:
        pass
    finally:
        live.sockets.discard(websocket)


# ---------------------------------------------------------------- the guard (pure ASGI: covers HTTP and WebSocket)

class GuardMiddleware:
    def __init__(self, app, guard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        from starlette.requests import HTTPConnection

        conn = HTTPConnection(scope)
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        query = conn.query_params if scope["type"] == "http" and scope["path"] == "/" else None
        bad = self.guard.check(method, conn.headers, conn.cookies, query)
        if bad is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await PlainTextResponse(bad[1], status_code=bad[0])(scope, receive, send)


def build_app(console):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await console.shutdown()

    routes = [
        Route("/", index),
        Route("/api/state", api_state),
        Route("/api/schema", api_schema),
        Route("/api/clinical/validate", api_validate, methods=["POST"]),
        Route("/api/sim/start", api_sim_start, methods=["POST"]),
        Route("/api/scan", api_scan, methods=["POST"]),
        Route("/api/identify", api_identify, methods=["POST"]),
        Route("/api/perf", api_perf, methods=["GET", "POST"]),
        Route("/api/studies", api_create_study, methods=["POST"]),
        Route("/api/studies/{sid}", api_study),
        Route("/api/studies/{sid}/clinical", api_put_clinical, methods=["PUT"]),
        Route("/api/studies/{sid}/mapping", api_mapping, methods=["PUT"]),
        Route("/api/studies/{sid}/check", api_check, methods=["POST"]),
        Route("/api/studies/{sid}/check", api_check_state, methods=["GET"]),
        Route("/api/studies/{sid}/trials", api_start_trial, methods=["POST"]),
        Route("/api/studies/{sid}/trials", api_trials, methods=["GET"]),
        Route("/api/studies/{sid}/trials/{tid}/stop", api_stop_trial, methods=["POST"]),
        Route("/api/studies/{sid}/trials/{tid}/notes", api_trial_notes, methods=["PUT"]),
        Route("/api/studies/{sid}/trials/{tid}/review", api_review),
        Route("/api/studies/{sid}/trials/{tid}/report", api_report, methods=["POST"]),
        Route("/api/studies/{sid}/reports/{tid}/{name}", api_report_file),
        Route("/api/studies/{sid}/interpretation", api_interpretation, methods=["PUT"]),
        WebSocketRoute("/ws/live", ws_live),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(GuardMiddleware, guard=console.guard)])
    app.state.console = console
    return app


