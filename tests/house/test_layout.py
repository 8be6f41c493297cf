"""The house rules of the layout: data flows one way, so downstream packages never import upstream ones."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path, package):
    """Absolute names of every module a file imports (relative imports resolved against package)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names += [base] + [base + "." + a.name for a in node.names]
    return names


def package_imports(pkg_dir, package):
    found = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        sub = path.relative_to(pkg_dir).with_suffix("").parts
        pkg = ".".join([package] + list(sub[:-1] if sub[-1] != "__init__" else sub[:-1]))
        found[path] = imported_modules(path, pkg)
    return found


def test_report_depends_only_on_the_summary_dict_not_the_study_package():
    for path, names in package_imports(ROOT / "host" / "myostride" / "report", "myostride.report").items():
        bad = [n for n in names if n.startswith("myostride.study")]
        assert not bad, "%s imports %s" % (path, bad)


def test_the_node_does_not_probe_its_board():
    """firmware/board.py's Board gives every optional method a default, so node.py calls them as they are."""
    text = (ROOT / "firmware" / "node.py").read_text()
    assert "hasattr(board" not in text and "hasattr(self.board" not in text
    assert "getattr(board" not in text and "getattr(self.board" not in text
