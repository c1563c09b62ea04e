"""Tools with the names and arguments of the FD author's Kimina MCP server (``lean_run_code``,
``lean_write_file``, ``lean_check_file``, ``rg_in_mathlib``), so prompts written for that setup work
here. They run on leanfd's verifier, with its guard and axiom audit: a snippet is checked as a
file that proves its last theorem. ``rg_in_mathlib`` matches a regular expression against
declaration *names* (the embedded Lean ships no sources to grep), at most 5 hits as in Kimina.
``read_mathlib_file`` has no counterpart for the same reason; ``read`` gives a declaration's
signature instead.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from leanfd.env.tools import (
    MAX_CODE_CHARS,
    MAX_FEEDBACK_CHARS,
    MAX_SHORT_ARG_CHARS,
    ToolError,
    cap,
    library,
    problem_from_statement,
    require_text,
    run_check,
)
from leanfd.io import atomic_write, cache_dir
from leanfd.lean.verify import Verifier
from leanfd.syntax import identifiers, tokenize, top_level_assign

MAX_RG_HITS = 5  # Kimina's rg_in_mathlib returns at most 5 matching lines
_TARGETS = ("theorem", "lemma", "example")
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def scratch_root() -> Path:
    """Where ``lean_write_file`` writes: one folder per trajectory under the leanfd cache."""
    return cache_dir() / "env" / "scratch"


def split_snippet(code: str) -> tuple[str, str, str]:
    """``(header, statement, code)`` of a snippet: its ``import``/``open`` lines before the last
    ``theorem``/``lemma``/``example`` at column 0, that declaration up to its ``:=``, and the snippet
    with a final ``example`` named ``theorem leanfd_example`` (a file's target needs a name)."""
    toks = tokenize(code)
    starts = [t for t in toks if t.col == 0 and t.depth == 0 and t.text in _TARGETS]
    if not starts:
        raise ToolError("the code has no theorem (or lemma/example) at the start of a line to check")
    decl = starts[-1]
    assign = top_level_assign(code, decl.start)
    if assign is None:
        raise ToolError(f"the {decl.text} on line {decl.line} has no `:=` (nothing to check)")
    head = [ln for ln in code[: decl.start].splitlines() if ln.startswith(("import ", "open "))]
    if decl.text == "example":
        named = "theorem leanfd_example"
        code = code[: decl.start] + named + code[decl.end :]
        assign += len(named) - len("example")
    return "\n".join(head), code[decl.start : assign + 2], code


def lean_run_code(lean_code: str, *, verifier: Verifier | None = None, timeout_s: float | None = None) -> str:
    """Check a Lean snippet (a file whose last theorem is the one to prove); returns ``is_valid``
    and Lean's messages (positions in the snippet)."""
    require_text("lean_code", lean_code, MAX_CODE_CHARS)
    header, statement, code = split_snippet(lean_code)
    problem = problem_from_statement(statement, header)
    out = run_check(problem, code, verifier=verifier, timeout_s=timeout_s)
    v = out.verdict
    lines = [f"is_valid: {str(v.ok).lower()}", f"status: {v.status}" + (f" ({v.reason})" if v.reason else "")]
    shown = [m for m in v.messages if m.severity in ("error", "warning")]
    if out.attempt.file is None and out.attempt.proof != code:
        lines.append("(positions count from the first line of the proof, after `:=`)")
    lines += [f"{m.line}:{m.col}: {m.severity}: {m.text.strip()}" for m in shown]
    return cap("\n".join(lines), MAX_FEEDBACK_CHARS)


def _scratch_path(trajectory_id: str, file_name: str) -> Path:
    for what, value in (("trajectory_id", trajectory_id), ("file_name", file_name)):
        require_text(what, value, MAX_SHORT_ARG_CHARS)
        if not _SAFE_PART.match(value) or ".." in value:
            raise ToolError(
                f"{what} {value!r} must be a plain name (letters, digits, '_', '-', '.'; no '/' or '..')"
            )
    name = file_name if file_name.endswith(".lean") else file_name + ".lean"
    return scratch_root() / trajectory_id / name


def lean_write_file(
    code: str,
    file_name: str,
    trajectory_id: str,
    *,
    verifier: Verifier | None = None,
    timeout_s: float | None = None,
) -> str:
    """Write ``code`` to ``file_name`` in the trajectory's scratch folder, then check it as
    ``lean_run_code`` does; returns the file's path and the result."""
    require_text("code", code, MAX_CODE_CHARS)
    path = _scratch_path(trajectory_id, file_name)
    atomic_write(path, code)
    return f"wrote {path}\n" + lean_run_code(code, verifier=verifier, timeout_s=timeout_s)


def lean_check_file(
    absolute_file_path: str,
    return_lemmas_list: bool = False,
    *,
    verifier: Verifier | None = None,
    timeout_s: float | None = None,
) -> str:
    """Check a file written by ``lean_write_file`` again; with ``return_lemmas_list``, also list the
    library declarations it cites. Only files under the scratch folder can be read."""
    require_text("absolute_file_path", absolute_file_path, MAX_SHORT_ARG_CHARS)
    root = scratch_root().resolve()
    path = Path(absolute_file_path).resolve()
    if not path.is_relative_to(root):
        raise ToolError(f"only files written with lean_write_file (under {root}) can be checked")
    if not path.is_file():
        raise ToolError(f"no file {path}; write it with lean_write_file first")
    code = path.read_text(encoding="utf-8")
    out = lean_run_code(code, verifier=verifier, timeout_s=timeout_s)
    if return_lemmas_list:
        header, _, _ = split_snippet(code)
        idx = library(verifier).index(header)
        known = set(idx.names)
        cited = [n for n in dict.fromkeys(identifiers(code)) if n in known]
        out += "\nlemmas used: " + (", ".join(cited) if cited else "none from the library")
    return cap(out, MAX_FEEDBACK_CHARS)


def rg_in_mathlib(
    pattern: str, file_glob_pattern: str = "", *, verifier: Verifier | None = None, header: str = ""
) -> str:
    """Declarations whose name matches the regular expression ``pattern`` (at most 5), optionally
    only in modules whose path matches ``file_glob_pattern`` (e.g. ``Init/Data/Nat/*``); each as
    ``Module/Path.lean: signature``."""
    require_text("pattern", pattern, MAX_SHORT_ARG_CHARS)
    require_text("file_glob_pattern", file_glob_pattern, MAX_SHORT_ARG_CHARS)
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ToolError(f"pattern is not a valid regular expression: {e}") from None
    lib = library(verifier)
    idx = lib.index(header)
    hits = []
    for i, name in enumerate(idx.names):
        path = idx.modules[i].replace(".", "/") + ".lean"
        if rx.search(name) and (not file_glob_pattern or fnmatch.fnmatch(path, file_glob_pattern)):
            hits.append((path, name))
            if len(hits) == MAX_RG_HITS:
                break
    if not hits:
        return f"no declaration name matches {pattern!r}"
    described = lib.describe([n for _, n in hits], header)
    lines = [
        f"{p}: {' '.join((d.get('signature') or d['name']).split())}"
        for (p, _), d in zip(hits, described, strict=True)
    ]
    return "\n".join(lines)
