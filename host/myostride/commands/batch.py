"""`myostride batch ROOT --out RESULTS`: `myostride analyze` over an archive, on Dask, into Parquet tables."""

from ..errors import UserError
from ..muscles import check_side


def add_parser(subparsers):
    p = subparsers.add_parser(
        "batch", help="analyse every session folder and C3D file under a folder, on Dask, into Parquet tables",
        description="Run the analysis of `myostride analyze` over an archive: every session folder and .c3d file "
                    "under ROOT (or those matching --glob, or listed in --manifest). Writes the Parquet tables "
                    "files/, channels/, strides/ and failures/ (one part per input) and batch.json to --out. "
                    "Re-running skips inputs already analysed with the same settings and tool version.")
    p.add_argument("root", metavar="ROOT", nargs="?", default=None,
                   help="archive folder (not needed with --manifest)")
    p.add_argument("--out", required=True, metavar="RESULTS_DIR", help="results folder (created if missing)")
    p.add_argument("--glob", action="append", default=[], metavar="PATTERN",
                   help="only inputs matching this pattern under ROOT, e.g. '**/*walk*.c3d' (repeatable)")
    p.add_argument("--manifest", metavar="FILE.csv",
                   help="CSV of inputs: columns path, and optionally map ('LABEL=SIDE:MUSCLE;...'), side, "
                        "emg_units, events")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N", help="local cluster size (default: one per core)")
    p.add_argument("--force", action="store_true", help="analyse again inputs already done")
    p.add_argument("--map", action="append", default=[], metavar="LABEL=SIDE:MUSCLE",
                   help="channel mapping for every input (a manifest row can give its own)")
    p.add_argument("--side", help="side (left/right) for channels and events that do not say")
    p.add_argument("--emg-units", metavar="UNIT", help="unit of the EMG values (default: decided per file)")
    p.add_argument("--events-from", choices=("stored", "imu", "footswitch"), help="gait event source")
    p.add_argument("--powerline", choices=("interpolate", "notch", "off"), default="interpolate",
                   help="powerline removal (default: spectral interpolation)")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(run=run)


def run(args):
    side = None
    if args.side:
        try:
            side = check_side(args.side)
        except ValueError as exc:
            raise UserError(str(exc))
    if args.workers is not None and args.workers < 1:
        raise UserError("bad --workers %d: give 1 or more" % args.workers)
    if args.root is None and not args.manifest:
        raise UserError("give the archive folder (ROOT) or --manifest FILE.csv")
    try:
        import dask.distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise UserError("batch needs Dask and pyarrow (%s); install them with: pip install 'myostride[batch]'" % exc.name)
    from ..analysis import pipeline
    from ..batch import discover, runner

    jobs = discover.discover(args.root, args.glob, args.manifest, args.map, side, args.emg_units)
    if not jobs:
        raise UserError("no session folder or .c3d file found under %s%s; check the folder or the --glob patterns"
                        % (args.root, " matching " + ", ".join(args.glob) if args.glob else ""))
    settings = pipeline.settings_with(powerline=args.powerline, events_from=args.events_from)
    summary = runner.run_batch(jobs, settings, args.out, scheduler=args.scheduler, workers=args.workers,
                               force=args.force, progress=not args.no_progress)
    print("batch: %d inputs: %d analysed, %d failed, %d already done (skipped) in %.1f s; tables in %s"
          % (summary["inputs"], summary["analysed"], summary["failed"], summary["skipped"], summary["seconds"],
             args.out))
    if summary["failed"]:
        from ..batch import tables
        for row in tables.read_table(args.out, "failures").to_pylist():
            print("  failed: %s: %s" % (row["path"], row["reason"]))
    return 0
