"""`myostride demo`: the whole chain on a simulated patient, end to end.

simulate (patient + real firmware nodes on the virtual air) -> record through the host stack
(bleak, time sync, resend) -> analyse -> 96002 summary -> report.html / report.pdf.
Uses the built-in example clinical file (pseudonymous patient).
"""

import asyncio
import json
import shutil
import time
from pathlib import Path

from ..errors import UserError

DEFAULT_OUT = "myostride-demo"
# The simulated world runs longer than the recording: connecting, starting and the final
# resend round all happen on the same simulated clock.
WORLD_MARGIN_S = 25.0
OUTPUTS = ("summary.json", "report.html", "report.pdf", "analysis.json", "session", "sim")


class DemoStopped(Exception):
    """Ctrl-C / SIGTERM during the demo's recording: the session is closed, the world stopped."""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="simulated walking trial end to end: simulate, record, analyse, report",
        description=__doc__,
        epilog="Example: myostride demo --out demo1 --nodes 6 --condition equinus --seconds 20",
    )
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help="output folder (default ./%s)" % DEFAULT_OUT)
    p.add_argument("--nodes", type=int, default=12, metavar="N", help="simulated nodes/muscles, 1-12 (default 12)")
    p.add_argument("--condition", default="normal", metavar="NAME",
                   help="walking pattern: normal, crouch, equinus, stiff-knee, hemiplegic (default normal)")
    p.add_argument("--seconds", type=float, default=30.0, metavar="S", help="recording length, 5-600 s (default 30)")
    p.add_argument("--seed", type=int, default=1, metavar="K", help="random seed of the simulation (default 1)")
    p.add_argument("--loss", type=float, default=2.0, metavar="PCT", help="radio packet loss in %% (default 2)")
    p.add_argument("--speed", type=float, default=1.0, metavar="F",
                   help="simulated time per real second (default 1: real time, as a live trial)")
    p.add_argument("--radio", choices=("sim", "nimble"), default="sim",
                   help="sim: the virtual air (default); nimble: the nodes on MicroPython's real NimBLE stack and "
                        "the host on a Bumble host stack (builds the NimBLE MicroPython once; real time only)")
    p.add_argument("--force", action="store_true", help="replace the outputs of an earlier demo in DIR")
    p.add_argument("--no-live", action="store_true", help="no live table while recording")
    p.set_defaults(run=run)


def check_args(args):
    from myosim.patient import CONDITIONS

    if not 1 <= args.nodes <= 12:
        raise UserError("--nodes must be 1-12 (96002 covers 1-12 muscles), got %d" % args.nodes)
    if args.condition not in CONDITIONS:
        raise UserError("unknown --condition %r; choose one of %s" % (args.condition, ", ".join(CONDITIONS)))
    if not 5 <= args.seconds <= 600:
        raise UserError("--seconds must be 5-600 (enough strides to analyse), got %g" % args.seconds)
    if not 0 <= args.loss <= 30:
        raise UserError("--loss must be 0-30 %%, got %g" % args.loss)
    if not 0.25 <= args.speed <= 8:
        raise UserError("--speed must be 0.25-8, got %g" % args.speed)
    if getattr(args, "radio", "sim") == "nimble" and args.speed != 1:
        raise UserError("--radio nimble runs the real stacks in real time: drop --speed (got %g)" % args.speed)


def prepare_out(out, force):
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError("--out %s is a file; give a folder" % out)
    existing = [name for name in OUTPUTS if (out / name).exists()]
    if existing and not force:
        raise UserError("%s already holds a demo (%s); add --force to replace it or choose another --out"
                        % (out, ", ".join(existing)))
    for name in existing:
        p = out / name
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def run(args):
    from rich.console import Console

    check_args(args)
    out = prepare_out(args.out, args.force)
    console = Console()
    t_start = time.monotonic()
    console.print("[bold]myostride demo[/bold]: %d simulated node(s), %s walking, %g s, seed %d -> %s"
                  % (args.nodes, args.condition, args.seconds, args.seed, out))

    scenario, world = _simulate(out / "sim", args, console)
    try:
        manifest = _record(out / "session", scenario, world, args, console)
    except DemoStopped as exc:
        console.print(str(exc))
        return 130  # the shell's code for "ended by a signal"; nothing left running
    finally:
        faults_path = _stop_world(world, scenario)
    console.print("  truth of the simulation: %s" % faults_path)

    analysis = _analyse(out, console)
    paths = _report(out, analysis, console)
    _print_outcome(console, out, manifest, analysis, paths, time.monotonic() - t_start)
    return 0


def _step(console, text):
    console.print("[cyan]>[/cyan] " + text)


def _simulate(sim_dir, args, console):
    from myosim import nodefiles
    from myosim.scenario import build_scenario
    from myosim.world import World, WorldError

    from .sim import socket_paths

    _step(console, "simulating the patient and %d sensor nodes (real firmware under MicroPython)" % args.nodes)
    try:
        scenario = build_scenario(sim_dir, nodes=args.nodes, condition=args.condition,
                                  seconds=args.seconds + WORLD_MARGIN_S, seed=args.seed)
    except ValueError as e:
        raise UserError(str(e)) from None
    air_sock, host_sock = socket_paths(sim_dir)
    nodefiles.write_world(scenario.world_path, air_sock, host_sock, args.seconds + WORLD_MARGIN_S, speed=args.speed)
    if getattr(args, "radio", "sim") == "nimble":
        from myosim.realstack.world import RealWorld

        _step(console, "building/finding the NimBLE MicroPython (cached after the first build)")
        world = RealWorld(scenario.node_jsons, scenario.world_path, {"seed": args.seed, "loss_pct": args.loss})
    else:
        world = World(scenario.node_jsons, scenario.world_path, {"seed": args.seed, "loss_pct": args.loss})
    try:
        world.start()
    except WorldError as e:
        raise UserError("could not start the simulated nodes: %s" % e) from None
    return scenario, world


def _stop_world(world, scenario):
    from myosim.scenario import write_truth

    world.stop()
    return write_truth(scenario, world.faults(), world.radio)


def _record(session_dir, scenario, world, args, console):
    from ..acquire.backends import resolve_backend
    from ..acquire.recorder import Recorder

    mapping = ["%d=%s:%s" % (n["node_id"], n["side"], n["muscle"]) for n in scenario.truth["nodes"]]
    _step(console, "recording %g s through the host stack (bleak, clock sync, resend of lost packets)" % args.seconds)
    display = None
    if not args.no_live:
        from ..acquire.live import LiveDisplay

        display = LiveDisplay(console=console)
    # The one place the demo chooses its radio: the virtual air, or the real stacks (a Bumble host
    # on the real-stack world's central controller, which world.json names).
    name = "bumble" if getattr(args, "radio", "sim") == "nimble" else "sim"
    rec = Recorder(session_dir, mapping, args.seconds, backend=resolve_backend(name, world=world.world_json),
                   progress=display.update if display else None)

    from .record import stop_on_signals

    async def go():
        async with stop_on_signals(rec) as stop:
            if display is None:
                return await rec.run(stop)
            with display:
                return await rec.run(stop)

    manifest = asyncio.run(go())
    if manifest.get("status") == "stopped":
        raise DemoStopped("demo stopped during the recording; the session so far is in %s" % session_dir)
    if manifest.get("status") != "complete":
        raise UserError("the recording ended as %r; see %s" % (manifest.get("status"), session_dir))
    return manifest


def _analyse(out, console):
    from ..analysis import load_input
    from ..analysis.pipeline import analyse, finite_json

    _step(console, "analysing gait cycles and muscle activation timing")
    analysis = analyse(load_input(str(out / "session")))
    (out / "analysis.json").write_text(json.dumps(finite_json(analysis), indent=1))
    return analysis


def _report(out, analysis, console):
    from ..session import load_session
    from ..study import write_study_outputs
    from ..study.clinical import EXAMPLE_CLINICAL_PATH, load_clinical

    _step(console, "writing the 96002 summary and the report (HTML + PDF)")
    clinical = load_clinical(EXAMPLE_CLINICAL_PATH)
    session = load_session(out / "session")
    # The example patient is seen today: the service date is the recording's date.
    clinical["date_of_service"] = session.meta["created_utc"][:10]
    return write_study_outputs(analysis, clinical, out, session)


def _print_outcome(console, out, manifest, analysis, paths, elapsed_s):
    from rich.table import Table

    t = Table(title="session", title_justify="left")
    for col in ("node", "muscle", "samples received/expected", "frames recovered", "gaps", "quality"):
        t.add_column(col)
    quality = {(c["side"], c["muscle"]): c["quality"] for c in analysis["channels"]}
    for n in manifest.get("nodes", []):
        q = quality.get((n.get("side"), n.get("muscle")), {})
        ok = "usable" if q.get("usable") else "unreliable: " + "; ".join(q.get("reasons", []))
        t.add_row(str(n.get("node_id")), "%s %s" % (n.get("side"), n.get("muscle")),
                  "%d/%d" % (n["samples"]["received"], n["samples"]["expected"]), str(n["frames"]["recovered"]),
                  str(len(n.get("gaps", []))), ok)
    console.print(t)
    summary = paths["summary"]
    stack = (summary.get("data_source") or {}).get("radio_stack")
    if stack:
        console.print("radio stack: %s" % stack)
    lines = summary["coding"]["lines"]
    console.print("muscles tested: %d; suggested coding: %s (decision support, not billing advice)"
                  % (summary["muscles_tested"], ", ".join("%s x%s%s" % (
                      ln["code"], ln["units"], (" -" + "-".join(ln["modifiers"])) if ln["modifiers"] else "")
                      for ln in lines) or "none"))
    console.print("[bold green]done[/bold green] in %.0f s. Open the report: %s" % (elapsed_s, paths["html"]))
    console.print("  PDF: %s\n  summary: %s\n  analysis: %s\n  session: %s"
                  % (paths["pdf"], paths["summary_json"], out / "analysis.json", out / "session"))
