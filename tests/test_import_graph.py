"""The package's import graph follows the table in the README ("Architecture"): every ``leanfd``
import, lazy ones inside functions included, is parsed with ``ast`` and checked against it.

A module belongs to a *unit*: the leaf modules are units of their own (``syntax``, ``io``,
``data.problem``); otherwise the unit is the sub-package (``lean``, ``critic``, ``models``, …) or the
top-level module (``cli``). A new module or package must be added to the table here and in the
README; the last tests parse the README's table and fail naming any row that differs from this one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "leanfd"

LEAVES = {"syntax", "io", "options", "data.problem"}
#: unit -> the units it may import (its own unit is always allowed; ``leanfd`` is the version only).
ALLOWED: dict[str, set[str]] = {
    "syntax": set(),
    "io": set(),
    "options": set(),
    "data.problem": set(),
    "data": LEAVES,
    "lean": LEAVES | {"data"},
    "critic": LEAVES | {"data", "lean"},
    "env": LEAVES | {"data", "lean", "critic"},
    "models": LEAVES | {"data"},
    "serve": LEAVES | {"data", "lean"},
    "eval": LEAVES | {"data", "lean", "critic", "env", "models"},
    "train": LEAVES | {"data", "lean", "critic", "env", "models", "eval"},
    "cli": LEAVES | {"data", "lean", "critic", "env", "models", "serve", "eval", "train"},
}
#: Documented exceptions, one per seam: (importing module, imported unit, why).
SEAMS = {
    ("leanfd.critic.lm", "models"): "the LM critic loads its frozen language model through leanfd.models",
}


def unit_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "leanfd", module
    if len(parts) == 1:
        return "leanfd"
    if ".".join(parts[1:3]) in LEAVES:
        return ".".join(parts[1:3])
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    return (ROOT / f"{name}.py").exists() or (ROOT / name / "__init__.py").exists()


def leanfd_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``leanfd`` import in the file, wherever it appears."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "leanfd"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                me = module_name(path)
                package = me if path.name == "__init__.py" else me.rpartition(".")[0]
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "leanfd":
                continue
            if mod == "leanfd":  # `from leanfd import io` names a module, `__version__` an attribute
                found += [
                    (node.lineno, f"leanfd.{a.name}" if _is_module(a.name) else "leanfd") for a in node.names
                ]
            else:
                found.append((node.lineno, mod))
    return found


def violations() -> list[str]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        mine = unit_of(me)
        if mine == "leanfd":
            continue
        if mine not in ALLOWED:
            out.append(f"{me}: unit {mine!r} is not in the import table (tests/test_import_graph.py, README)")
            continue
        for line, target in leanfd_imports(path):
            theirs = unit_of(target)
            if theirs in (mine, "leanfd") or theirs in ALLOWED[mine] or (me, theirs) in SEAMS:
                continue
            out.append(f"{me}:{line} imports {target} ({mine} -> {theirs} is not allowed)")
    return out


def test_imports_follow_the_table():
    assert violations() == []


def test_every_unit_in_the_table_exists_and_the_parser_sees_lazy_imports(tmp_path):
    units = {unit_of(module_name(p)) for p in ROOT.rglob("*.py")} - {"leanfd"}
    assert units <= set(ALLOWED)
    # the checker itself: a lazy import inside a function is found, and a back-edge is reported
    f = tmp_path / "x.py"
    f.write_text(
        "def g():\n    from leanfd.models.policy import load_policy\n    import leanfd.train.losses\n"
    )
    assert leanfd_imports(f) == [(2, "leanfd.models.policy"), (3, "leanfd.train.losses")]


@pytest.mark.parametrize(
    ("module", "unit"),
    [
        ("leanfd.syntax", "syntax"),
        ("leanfd.data.problem", "data.problem"),
        ("leanfd.data.loaders", "data"),
        ("leanfd.lean.http", "lean"),
        ("leanfd.cli", "cli"),
    ],
)
def test_units(module, unit):
    assert unit_of(module) == unit


# -- the README's copy of the table -------------------------------------------------------------

README = ROOT.parent / "README.md"
_TABLE_HEAD = "| unit | may import (besides itself) |"
_CODE = re.compile(r"`([^`]+)`")


def _unit(written: str) -> str:
    """A unit as the README writes it (`data/`, `data/problem`, `cli.py`) as named in ALLOWED."""
    return written.removesuffix(".py").rstrip("/").replace("/", ".")


def readme_table(text: str) -> tuple[dict[str, set[str]], set[tuple[str, str]], dict[str, str]]:
    """The README's import table: unit -> units it may import, the seams (importing module,
    imported unit), and unit -> the row as written (to name it in a failure)."""
    lines = text.splitlines()
    start = lines.index(_TABLE_HEAD) + 2  # past the header and the |---| line
    allowed: dict[str, set[str]] = {}
    seams: set[tuple[str, str]] = set()
    rows: dict[str, str] = {}
    leaves: set[str] = set()
    parsed: list[tuple[list[str], str, str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        who, may = (c.strip() for c in line.strip("|").split("|"))
        units = [_unit(u) for u in _CODE.findall(who)]
        if who.startswith("leaf modules"):
            leaves = set(units)
        parsed.append((units, may, line))
    everyone = {u for units, _, _ in parsed for u in units}
    for units, may, line in parsed:
        main, _, exceptions = may.partition(";")
        if main == "nothing from leanfd":
            targets: set[str] = set()
        elif main == "everything":
            targets = everyone - set(units)
        else:
            targets = {_unit(u) for u in _CODE.findall(main)}
            if "leaf modules" in main:
                targets |= leaves
        for seam in exceptions.split(";"):
            if m := re.search(r"`([^`]+)` only from `([^`]+)`", seam):
                seams.add(("leanfd." + m.group(2).removesuffix(".py").replace("/", "."), _unit(m.group(1))))
        for u in units:
            allowed[u], rows[u] = targets, line
    return allowed, seams, rows


def table_differences(text: str) -> list[str]:
    """Where the README's table and ALLOWED/SEAMS here disagree, each naming the README row."""
    allowed, seams, rows = readme_table(text)
    out = [f"unit {u!r} is in ALLOWED but has no README row" for u in sorted(set(ALLOWED) - set(allowed))]
    out += [f"README row {rows[u]!r}: no unit {u!r} in ALLOWED" for u in sorted(set(allowed) - set(ALLOWED))]
    for u in sorted(set(allowed) & set(ALLOWED)):
        readme, here = allowed[u], ALLOWED[u] - {u}
        if readme != here:
            out.append(
                f"README row {rows[u]!r}: it allows {sorted(readme)}, ALLOWED[{u!r}] allows {sorted(here)} "
                f"(only in the README: {sorted(readme - here)}; only here: {sorted(here - readme)})"
            )
    if seams != set(SEAMS):
        out.append(f"README seams {sorted(seams)} differ from SEAMS {sorted(SEAMS)}")
    return out


def test_the_readme_table_is_this_table():
    assert table_differences(README.read_text(encoding="utf-8")) == []


def test_a_readme_row_that_differs_is_named():
    text = README.read_text(encoding="utf-8")
    row = "| `models/` | leaf modules, `data/` |"
    assert row in text
    diff = table_differences(text.replace(row, "| `models/` | leaf modules, `data/`, `lean/` |"))
    assert len(diff) == 1 and "`models/`" in diff[0] and "only in the README: ['lean']" in diff[0]
    seam = "`models/` only from `critic/lm.py`"
    assert "README seams" in table_differences(text.replace(seam, "`models/` only from `critic/x.py`"))[0]
