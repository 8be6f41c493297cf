"""`myostride export SESSION --format c3d|csv [--out FILE]`: the session's EMG for other tools.

C3D carries the EMG analog channels (uV) and foot strike / foot off events; CSV has a time
column and one column per channel. Events come from --analysis FILE, else from analysing the
session (stored/IMU/footswitch events, as `myostride analyze` finds them).
"""

import sys
from pathlib import Path

from ..errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="export a session to C3D or CSV", description=__doc__)
    p.add_argument("session", metavar="SESSION", help="session directory (from `myostride record`)")
    p.add_argument("--format", required=True, choices=("c3d", "csv"), help="output format")
    p.add_argument("--out", metavar="FILE", help="output file (default: SESSION.c3d / SESSION.csv next to it)")
    p.add_argument("--analysis", metavar="FILE", help="analysis JSON whose gait events go into the C3D")
    p.add_argument("--no-events", action="store_true", help="C3D without gait events (skips the analysis)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(run=run)


def run(args):
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
