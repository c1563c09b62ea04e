"""Load problem suites from JSONL: the bundled ``core`` and ``minif2f`` suites, miniF2F-format files,
and user files.

Two row formats are read, chosen per row by its keys:

- **miniF2F** (``name, split, informal_prefix, formal_statement, header``): ``formal_statement`` ends in
  ``:= by``; it is normalised to a statement ending in ``:=`` (so a proof ``by ...`` follows) and the
  original is kept in ``Problem.original_statement``.
- **user / core** (``name, statement`` and optionally ``reference_proof`` or ``proof``, ``header``,
  ``split``, ``informal``, ``original_statement``, ``source``, ``difficulty``). A ``statement`` ending in
  ``:= by`` is normalised the same way.

Unknown keys are ignored (miniF2F rows also carry ``goal``). Every error names the file, the line and
what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from leanfd.data.problem import Problem

#: Suites shipped inside the package, by the name ``load_suite`` accepts.
BUNDLED_SUITES = {"core": "core.jsonl", "minif2f": "minif2f.jsonl"}

_BY_AT_END = re.compile(r":=\s*by\s*$")
_DECL_NAME = re.compile(r"^\s*(?:theorem|lemma)\s+([^\s(:{\[]+)")
_DOC_COMMENT = re.compile(r"^\s*/--\s*(.*?)\s*-/\s*$", re.DOTALL)


class SuiteFormatError(ValueError):
    """A suite file (or one of its rows) is malformed; the message names the file, line and field."""


def bundled_suite_path(name: str) -> Path:
    """The path of a suite shipped with leanfd (``core`` or ``minif2f``)."""
    if name not in BUNDLED_SUITES:
        raise KeyError(f"no bundled suite {name!r}; bundled suites: {', '.join(sorted(BUNDLED_SUITES))}")
    return Path(str(resources.files("leanfd.data") / "suites" / BUNDLED_SUITES[name]))


def load_suite(
    name_or_path: str | Path,
    split: str | Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Load a suite as a list of :class:`Problem` in file order.

    ``name_or_path`` is ``"core"`` (the bundled core-Lean suite), ``"minif2f"`` (the bundled miniF2F
    file, which needs Mathlib) or the path of a JSONL file in miniF2F or user format. ``split`` keeps
    only problems of that split (or of any of several); ``limit`` then keeps the first ``limit``.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    key = str(name_or_path)
    if key in BUNDLED_SUITES:
        path = bundled_suite_path(key)
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"suite {key!r} is neither a bundled suite ({', '.join(sorted(BUNDLED_SUITES))}) "
                "nor an existing JSONL file; pass one of those names or a path to a .jsonl file"
            )
    problems = read_jsonl_suite(path)
    if split is not None:
        wanted = {split} if isinstance(split, str) else set(split)
        kept = [p for p in problems if p.split in wanted]
        if not kept:
            present = sorted({str(p.split) for p in problems})
            raise ValueError(
                f"suite {key!r} has no problem in split {sorted(wanted)}; its splits are: {', '.join(present)}"
            )
        problems = kept
    if limit is not None:
        problems = problems[:limit]
    return problems


def read_jsonl_suite(path: str | Path) -> list[Problem]:
    """Read every row of a JSONL suite file (miniF2F or user format); blank lines are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SuiteFormatError(f"{path}: not UTF-8 text ({e}); save the suite as UTF-8 JSONL") from e
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SuiteFormatError(
                f"{where}: not valid JSON ({e.msg}); each line must be one JSON object"
            ) from e
        if not isinstance(row, dict):
            raise SuiteFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
        problem = problem_from_row(row, where)
        if problem.name in first_line:
            raise SuiteFormatError(
                f"{where}: duplicate problem name {problem.name!r} (first on line {first_line[problem.name]}); "
                "names must be unique within a suite"
            )
        first_line[problem.name] = lineno
        problems.append(problem)
    if not problems:
        raise SuiteFormatError(f"{path}: the file has no rows; a suite needs at least one problem")
    return problems


def problem_from_row(row: dict, where: str = "<row>") -> Problem:
    """Build a :class:`Problem` from one parsed JSONL row; ``where`` (``file:line``) prefixes errors."""
    name = _required_str(row, "name", where)
    if "formal_statement" in row:  # miniF2F format
        original = _required_str(row, "formal_statement", where)
        statement = normalise_statement(original, where)
        informal = _optional_str(row, "informal_prefix", where)
        informal = (
            _strip_doc_comment(informal) if informal is not None else _optional_str(row, "informal", where)
        )
        proof = _optional_str(row, "reference_proof", where) or _optional_str(row, "proof", where)
        source = _optional_str(row, "source", where) or "minif2f"
    elif "statement" in row:  # user / core format
        raw = _required_str(row, "statement", where)
        statement = normalise_statement(raw, where)
        original = _optional_str(row, "original_statement", where)
        if original is None and statement != raw.strip():
            original = raw
        informal = _optional_str(row, "informal", where)
        proof = _optional_str(row, "reference_proof", where)
        alt = _optional_str(row, "proof", where)
        if proof is not None and alt is not None and proof != alt:
            raise SuiteFormatError(
                f"{where}: both 'reference_proof' and 'proof' are given and differ; keep one"
            )
        proof = proof if proof is not None else alt
        source = _optional_str(row, "source", where)
    else:
        raise SuiteFormatError(
            f"{where}: missing field 'statement' (user format: name, statement, reference_proof?, header?, "
            "split?) or 'formal_statement' (miniF2F format)"
        )
    declared = _DECL_NAME.match(statement)
    if declared and declared.group(1) != name:
        raise SuiteFormatError(
            f"{where}: the statement declares {declared.group(1)!r} but the row's name is {name!r}; "
            "make them equal"
        )
    if proof is not None and not proof.strip():
        raise SuiteFormatError(f"{where}: 'reference_proof' is empty; give a proof or leave the field out")
    return Problem(
        name=name,
        statement=statement,
        header=_optional_str(row, "header", where) or "",
        split=_optional_str(row, "split", where),
        informal=informal,
        reference_proof=proof,
        original_statement=original,
        source=source,
        difficulty=_optional_str(row, "difficulty", where),
    )


def normalise_statement(text: str, where: str = "<statement>") -> str:
    """Return the statement ending in ``:=``: a trailing ``:= by`` (miniF2F) loses its ``by``.

    Raises :class:`SuiteFormatError` when the text ends in neither, e.g. when it already contains a
    proof (``:= by simp``) or ``sorry``.
    """
    stripped = text.strip()
    if _BY_AT_END.search(stripped):
        return _BY_AT_END.sub(":=", stripped)
    if stripped.endswith(":="):
        return stripped
    tail = stripped[-40:].replace("\n", " ")
    raise SuiteFormatError(
        f"{where}: the statement must end with ':=' or ':= by' (no proof, no sorry); it ends with {tail!r}"
    )


def _strip_doc_comment(text: str) -> str:
    m = _DOC_COMMENT.match(text)
    return m.group(1) if m else text.strip()


def _required_str(row: dict, key: str, where: str) -> str:
    if key not in row or row[key] is None:
        raise SuiteFormatError(f"{where}: missing field {key!r}")
    value = row[key]
    if not isinstance(value, str) or not value.strip():
        raise SuiteFormatError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    return value


def _optional_str(row: dict, key: str, where: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SuiteFormatError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value
