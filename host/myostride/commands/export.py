"""`myostride export SESSION --format c3d|csv|bids [--out FILE|DIR]`: the session's EMG for other tools.

C3D carries the EMG analog channels (uV) and foot strike / foot off events; CSV has a time
column and one column per channel. Events come from --analysis FILE, else from analysing the
session (stored/IMU/footswitch events, as `myostride analyze` finds them).

BIDS (EMG-BIDS, BIDS >= 1.11) adds the trial to the dataset in --out DIR (created if new): the
recorded ADC codes losslessly in BDF+, one file per node; SESSION may also be a lab C3D file.
Several trials and sessions of one patient go into one dataset (the next free --run).
"""

import sys
from pathlib import Path

from ..errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="export a session to C3D or CSV", description=__doc__)
    p.add_argument("session", metavar="SESSION", help="session directory (from `myostride record`)")
    p.add_argument("--format", required=True, choices=("c3d", "csv", "bids"), help="output format")
    p.add_argument("--out", metavar="FILE", help="output file (default: SESSION.c3d / SESSION.csv next to it); "
                   "for bids the dataset folder (required)")
    p.add_argument("--analysis", metavar="FILE", help="analysis JSON whose gait events go into the C3D")
    p.add_argument("--no-events", action="store_true", help="C3D without gait events (skips the analysis)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists (not for bids)")
    b = p.add_argument_group("bids")
    b.add_argument("--subject", metavar="ID", help="pseudonymous participant id (default: the clinical file's "
                   "patient.id)")
    b.add_argument("--clinical", metavar="FILE", help="clinical JSON: patient id and electrodes for the sidecar")
    b.add_argument("--bids-session", metavar="LABEL", help="BIDS session label, e.g. the visit (optional)")
    b.add_argument("--run", dest="bids_run", type=int, metavar="N", help="run number (default: the next free one)")
    b.add_argument("--powerline-hz", type=float, choices=(50.0, 60.0), metavar="HZ",
                   help="mains frequency where the trial was recorded (50 or 60)")
    p.set_defaults(run=run)


def run(args):
    if args.format == "bids":
        return run_bids(args)
    from ..export import write_c3d, write_csv
    from ..session import load_session

    session_dir = Path(args.session)
    out = Path(args.out) if args.out else session_dir.parent / (session_dir.resolve().name + "." + args.format)
    if out.exists() and not args.force:
        raise UserError("%s exists; choose another --out or add --force to replace it" % out)
    if out.is_dir():
        raise UserError("--out %s is a directory; give a file name" % out)
    session = load_session(session_dir)
    if args.format == "csv":
        write_csv(out, session.channels)
        print("wrote %s (%d channels)" % (out, len(session.channels)))
        return 0
    events = None if args.no_events else session_events(session_dir, args.analysis)
    write_c3d(out, session.channels, events)
    n_events = sum(len(v) for side in (events or {}).values() if isinstance(side, dict) for v in side.values())
    print("wrote %s (%d channels, %d gait events)" % (out, len(session.channels), n_events))
    return 0


def session_events(session_dir, analysis_path=None):
    """Gait events {side: {foot_strike_s, foot_off_s}} in session seconds, or None (with a note) if none."""
    from .report import analyse_session, read_analysis

    if analysis_path:
        analysis = read_analysis(analysis_path)
        if (analysis.get("source") or {}).get("kind") not in (None, "session"):
            raise UserError("--analysis %s was made from a %s file, not a session: its event times do not "
                            "apply" % (analysis_path, analysis["source"]["kind"]))
    else:
        try:
            analysis = analyse_session(session_dir)
        except UserError as exc:
            print("myostride export: note: no gait events in the C3D (%s)" % exc, file=sys.stderr)
            return None
    events = analysis.get("events") or {}
    return {side: events[side] for side in ("left", "right") if isinstance(events.get(side), dict)}


def run_bids(args):
    """Add one trial (a session directory or a lab C3D) to the BIDS dataset in --out."""
    from .. import export_bids

    if not args.out:
        raise UserError("--format bids needs --out DIR, the BIDS dataset folder (new, or one to add the trial to)")
    if args.force:
        raise UserError("--force is not used with bids: a trial never replaces one in the dataset; "
                        "give another --run instead")
    if args.bids_run is not None and args.bids_run < 1:
        raise UserError("--run %d: run numbers start at 1" % args.bids_run)
    clinical = None
    if args.clinical:
        from ..study.clinical import load_clinical
        clinical = load_clinical(args.clinical)
    subject = args.subject or ((clinical or {}).get("patient") or {}).get("id")
    if not subject:
        raise UserError("give the pseudonymous participant id with --subject ID (or --clinical FILE)")
    target = export_bids.BidsTarget(args.out, subject, args.bids_session, run=args.bids_run)
    source = Path(args.session)
    analysis = None
    if args.analysis:
        from .report import read_analysis
        analysis = read_analysis(args.analysis)
    if source.is_file() and source.suffix.lower() == ".c3d":
        from ..analysis import load_input
        if analysis is not None and (analysis.get("source") or {}).get("kind") != "c3d":
            raise UserError("--analysis %s was not made from a C3D file; give the analysis of %s"
                            % (args.analysis, source))
        specs = export_bids.c3d_trial(load_input(str(source)), analysis, clinical, args.powerline_hz)
    else:
        from ..session import load_session

        session = load_session(source)
        if analysis is None and not args.no_events:
            analysis = session_analysis(source)
        elif analysis is not None and (analysis.get("source") or {}).get("kind") not in (None, "session"):
            raise UserError("--analysis %s was made from a %s file, not a session: its event times do not "
                            "apply" % (args.analysis, analysis["source"]["kind"]))
        boards = [n.get("board") for n in session.meta.get("nodes") or [] if n.get("board")]
        board = export_bids.read_board(boards[0]) if boards else None
        specs = export_bids.session_trial(session, analysis, board, clinical, args.powerline_hz)
    written = export_bids.write_trial(target, specs)
    n_events = sum(1 for s in specs for r in s["events"] if r[2].startswith("foot_"))
    print("wrote sub-%s %stask-%s run-%d into %s: %d data file(s), %d channel(s), %d gait events"
          % (target.subject, "ses-%s " % target.session if target.session else "", target.task, target.run,
             args.out, sum(1 for w in written if w.suffix == ".bdf"), sum(len(s["channels"]) for s in specs),
             n_events))
    return 0


def session_analysis(session_dir):
    """The session's analysis (events, channel quality), or None with a note when it cannot be analysed."""
    from .report import analyse_session

    try:
        return analyse_session(session_dir)
    except UserError as exc:
        print("myostride export: note: no gait events or channel status in the export (%s)" % exc, file=sys.stderr)
        return None
