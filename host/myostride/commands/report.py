"""`myostride report INPUT --clinical FILE --out DIR`: summary.json, report.html and report.pdf.

INPUT is a session directory (analysed here with the analysis pipeline; analysis.json is
written too) or an analysis JSON from `myostride analyze`.
"""

import json
from pathlib import Path

from ..errors import UserError

OUTPUTS = ("summary.json", "report.html", "report.pdf")


def add_parser(subparsers):
    p = subparsers.add_parser("report", help="CPT 96002-ready summary and clinical report (HTML + PDF)",
                              description=__doc__)
    p.add_argument("input", metavar="INPUT", help="session directory or analysis JSON")
    p.add_argument("--clinical", required=True, metavar="FILE",
                   help="clinical metadata JSON (docs/clinical-input.md)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--session", metavar="DIR",
                   help="session directory for equipment facts when INPUT is an analysis JSON "
                        "(default: the analysis' source path if it is a session)")
    p.add_argument("--force", action="store_true", help="overwrite an existing report in DIR")
    p.set_defaults(run=run)


def run(args):
    from ..study import write_study_outputs
    from ..study.clinical import load_clinical
    from ..study.summary import check_analysis

    clinical = load_clinical(args.clinical)
    out = Path(args.out)
    inp = Path(args.input)
    outputs = OUTPUTS + (("analysis.json",) if inp.is_dir() else ())
    existing = [name for name in outputs if (out / name).exists()]
    if existing and not args.force:
        raise UserError("%s already holds %s; choose another --out or add --force to replace them"
                        % (out, ", ".join(existing)))
    session = None
    if inp.is_dir():
        session = load_session_or_fail(inp)
        analysis = analyse_session(inp)
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "analysis.json", analysis)
    elif inp.is_file():
        analysis = read_analysis(inp)
        check_analysis(analysis)
        session_dir = args.session or _session_source(analysis)
        if session_dir:
            session = load_session_or_fail(Path(session_dir))
    else:
        raise UserError("INPUT %s does not exist; give a session directory or an analysis JSON" % inp)
    paths = write_study_outputs(analysis, clinical, out, session)
    summary = paths["summary"]
    doc = summary["documentation"]
    print("summary: %s" % paths["summary_json"])
    print("report:  %s" % paths["html"])
    print("report:  %s" % paths["pdf"])
    print("muscles tested: %d; codes: %s; documentation %s" % (
        summary["muscles_tested"], ", ".join("%s x%d" % (ln["code"], ln["units"]) for ln in summary["coding"]["lines"])
        or "none", "complete" if doc["complete"] else "incomplete (missing: %s)" % ", ".join(doc["missing"])))
    return 0


def read_analysis(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise UserError("%s is not valid JSON (line %d: %s); pass the file `myostride analyze --json` wrote"
                        % (path, exc.lineno, exc.msg))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError("cannot read %s (%s)" % (path, exc))


def load_session_or_fail(path):
    from ..session import load_session

    return load_session(path)


def analyse_session(path):
    """Run the analysis pipeline on a session directory -> analysis dict."""
    from ..analysis import load_input, pipeline

    return pipeline.analyse(load_input(str(path)))


def _session_source(analysis):
    src = analysis.get("source") or {}
    if src.get("kind") == "session" and src.get("path") and Path(src["path"]).is_dir():
        return src["path"]
    return None


def _write_json(path, data):
    from ..study.summary import write_json

    write_json(path, data)
