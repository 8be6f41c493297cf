"""`myostride analyze INPUT --json OUT.json`: gait-cycle activation analysis of a session, C3D or CSV."""

import json
import os

from ..errors import UserError
from ..muscles import check_side


def add_parser(subparsers):
    p = subparsers.add_parser(
        "analyze", help="gait-cycle muscle activation analysis (session directory, .c3d or .csv)",
        description="Find when each muscle is active in the gait cycle, how consistently, and how that differs "
                    "from normal walking. Output: the analysis JSON (docs/analysis.md) and optional plots.")
    p.add_argument("input", metavar="INPUT", help="session directory, .c3d file or .csv EMG export")
    p.add_argument("--json", metavar="OUT.json", help="write the analysis JSON here")
    p.add_argument("--plots", metavar="DIR", help="write one PNG per muscle (envelope and activation raster) here")
    p.add_argument("--events", metavar="FILE.csv", help="gait events CSV (side,foot_strike_s,foot_off_s); "
                   "replaces events stored in the input")
    p.add_argument("--gyro", action="append", default=[], metavar="SIDE=LABEL",
                   help="C3D: the shank gyroscope channel (or channel-name prefix) for a side")
    add_analysis_options(p)
    p.set_defaults(run=run)


def add_analysis_options(p):
    """The options that decide what the analysis does, shared by `analyze` and `batch`."""
    p.add_argument("--map", action="append", default=[], metavar="LABEL=SIDE:MUSCLE",
                   help="map an input channel to a muscle (repeatable), e.g. 'Sensor 1.IM EMG1=right:soleus'")
    p.add_argument("--map-file", metavar="FILE",
                   help="channel-to-muscle mapping: a pyCGM2 emg.settings (YAML, CHANNELS: {label: {Muscle, Context}}) "
                        "or a CSV label,side,muscle; --map items override it")
    p.add_argument("--events-from", choices=("stored", "forceplate", "markers", "forceplate+markers", "imu", "footswitch"),
                   help="gait event source (default: stored, else force plates with markers, markers, force plates, IMU, footswitch)")
    p.add_argument("--side", help="side (left/right) for channels and events that do not say")
    p.add_argument("--emg-units", metavar="UNIT", help="unit of the EMG values: V, mV or uV (default: the file's "
                   "ANALOG:UNITS, CSV uV, when amplitudes are plausible for surface EMG, else inferred from the data "
                   "and said in the warnings)")
    p.add_argument("--normalise", choices=("peak", "mean", "mvc"), default="peak",
                   help="envelope amplitude normalisation (default: peak of the mean cycle)")
    p.add_argument("--mvc", action="append", default=[], metavar="LABEL=UV",
                   help="MVC envelope amplitude (uV) of a channel, for --normalise mvc")
    p.add_argument("--powerline", choices=("interpolate", "notch", "off"), default="interpolate",
                   help="powerline removal: spectral interpolation sparing EMG (default), notch, or off")
    p.add_argument("--mains", type=float, choices=(50.0, 60.0), help="mains frequency (default: detected)")
    p.add_argument("--band", nargs=2, type=float, metavar=("LOW_HZ", "HIGH_HZ"), default=None,
                   help="EMG band-pass edges (default 20 450, upper edge clipped to 0.45 x sampling rate)")


def analysis_settings(args):
    """(side, pipeline settings) from the options of add_analysis_options; UserError on a bad value."""
    side = None
    if args.side:
        try:
            side = check_side(args.side)
        except ValueError as exc:
            raise UserError(str(exc))
    mvc = {}
    for k, v in _parse_pairs(args.mvc, "--mvc", "LABEL=UV, e.g. 'TA=250'").items():
        try:
            mvc[k] = float(v)
        except ValueError:
            raise UserError("bad --mvc %s=%s: the MVC amplitude must be a number in uV" % (k, v))
    if args.band and not 0 < args.band[0] < args.band[1]:
        raise UserError("bad --band %g %g: give LOW_HZ HIGH_HZ with 0 < LOW < HIGH" % tuple(args.band))
    from ..analysis import pipeline  # scipy: import only when analysing

    try:
        settings = pipeline.settings_with(
            band_hz=list(args.band) if args.band else None, powerline=args.powerline, mains_hz=args.mains,
            normalisation=args.normalise, mvc_uv=mvc, events_from=args.events_from)
    except ValueError as exc:
        raise UserError("bad analysis setting: %s" % exc)
    return side, settings


def _parse_pairs(items, what, example):
    out = {}
    for item in items:
        if "=" not in item:
            raise UserError("bad %s %r; write it as %s" % (what, item, example))
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run(args):
    side, settings = analysis_settings(args)
    gyro = {}
    for k, v in _parse_pairs(args.gyro, "--gyro", "SIDE=LABEL, e.g. 'left=Sensor 5 Gyro'").items():
        try:
            gyro[check_side(k)] = v
        except ValueError as exc:
            raise UserError("bad --gyro: %s" % exc)
    from ..analysis import load_input, pipeline  # scipy: import only when analysing

    recording = load_input(args.input, maps=args.map, side=side, gyro=gyro, units=args.emg_units,
                           events_csv=args.events, map_file=args.map_file)
    result = pipeline.analyse(recording, settings)
    if args.json:
        _write_json(args.json, result)
    if args.plots:
        from ..analysis import plots
        written = plots.write_pngs(result, args.plots)
        print("plots: %d PNG files in %s" % (len(written), args.plots))
    _print_summary(result, args.json)
    return 0


def _write_json(path, result):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError("cannot write %s: folder %s does not exist" % (path, folder))
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=1, allow_nan=False)
    os.replace(tmp, path)


def _print_summary(result, json_path):
    ev = result["events"]
    print("events: %s; strides left %d, right %d" % (ev["source"], result["gait"]["left"]["strides"],
                                                      result["gait"]["right"]["strides"]))
    for ch in result["channels"]:
        flags = ", ".join(f["kind"] for f in ch["comparison"]["flags"]) or (ch["comparison"]["reason"] or "")
        print("  %-20s %-5s %-24s %-13s strides %2d used, %2d excluded  %s"
              % (ch["label"][:20], ch["side"], ch["muscle"], ch["quality"].get("call", ""), ch["strides_used"],
                 ch["strides_excluded"], flags))
    if result["unmapped_channels"]:
        print("unmapped channels (not analysed); map them with:")
        for line in result.get("unmapped_map_lines") or result["unmapped_channels"]:
            print("  %s" % line)
    for w in result["warnings"] + ev["warnings"]:
        print("warning: %s" % w)
    if json_path:
        print("analysis written to %s" % json_path)
