"""`myostride lab init|check`: the lab profile that completes reports made from imported files.

    myostride lab init [--out FILE]   write an empty profile (every key, null values) to fill in
    myostride lab check [--lab FILE]  validate it and list the equipment facts it provides

Default FILE: $XDG_CONFIG_HOME/myostride/lab.json (~/.config/myostride/lab.json), which
`myostride report` uses for imported files unless --lab or --no-lab says otherwise.
"""

import json
from pathlib import Path

from ..errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser("lab", help="lab profile: equipment facts for reports from imported C3D/CSV files",
                              description=__doc__)
    sub = p.add_subparsers(dest="lab_command", metavar="{init,check}")
    sub.required = True
    i = sub.add_parser("init", help="write an empty lab profile to fill in")
    i.add_argument("--out", metavar="FILE", help="where (default $XDG_CONFIG_HOME/myostride/lab.json)")
    i.add_argument("--force", action="store_true", help="replace FILE if it exists")
    i.set_defaults(run=run_init)
    c = sub.add_parser("check", help="validate a lab profile and list the facts it provides")
    c.add_argument("--lab", metavar="FILE", help="the profile (default $XDG_CONFIG_HOME/myostride/lab.json)")
    c.set_defaults(run=run_check)


def run_init(args):
    from ..study.lab import default_lab_path, template

    out = Path(args.out) if args.out else default_lab_path()
    if out.exists() and not args.force:
        raise UserError("%s exists; edit it, or choose another --out, or add --force to replace it" % out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(template(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise UserError("cannot write %s (%s); choose another --out" % (out, exc.strerror or exc))
    print("wrote %s: fill in what your lab has measured or documented (null = not known); keys in "
          "docs/interop.md; then `myostride lab check --lab %s`" % (out, out))
    return 0


def run_check(args):
    from ..study.lab import default_lab_path, equipment_facts, load_lab

    lab = load_lab(args.lab or default_lab_path())
    facts = equipment_facts(lab)
    print("lab profile %s is valid%s" % (lab["_path"], ", %s" % lab["lab"]["name"] if (lab.get("lab") or {}).get("name")
                                          else ""))
    print("equipment facts it provides for imported files: %s" % (", ".join(sorted(facts)) or "none yet (all null)"))
    return 0
