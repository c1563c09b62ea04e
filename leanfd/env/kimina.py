"""Tools with the names and arguments of the FD author's Kimina MCP server (``lean_run_code``,
``lean_write_file``, ``lean_check_file``, ``rg_in_mathlib``), so prompts written for that setup work
here. They run on leanfd's verifier, with its guard and axiom audit: a snippet is checked as a
file that proves its last theorem. ``rg_in_mathlib`` matches a regular expression against
declaration *names* (the embedded Lean ships no sources to grep) in the environment a header
imports, at most 5 hits as in Kimina, and says when more matched. The caller's pattern runs under
a time limit (the ``regex`` package's ``timeout``; Python's ``re`` has none), because a
backtracking pattern such as ``^(.|..)*[!?]$`` takes time exponential in a name's length, in this
process, where the verifier's Lean limit does not reach. ``read_mathlib_file`` has no counterpart:
there are no sources; ``read`` gives a declaration's signature instead.
"""

from __future__ import annotations

import fnmatch
import re
import time
from pathlib import Path

import regex

from leanfd.env.library import MAX_SIGNATURE_CHARS, one_line
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
from leanfd.lean.session import SessionCrashed
from leanfd.lean.verify import Verifier, VerifyInputError
from leanfd.syntax import identifiers, tokenize, top_level_assign

MAX_RG_HITS = 5  # Kimina's rg_in_mathlib returns at most 5 matching lines
#: Seconds a pattern may take over all the names it is matched against. A plain pattern takes
#: well under 0.2 s over ``import Lean``'s ~100k names; the limit only stops backtracking blow-ups.
RG_TIMEOUT_S = 2.0
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
    pattern: str,
    file_glob_pattern: str = "",
    header: str = "",
    *,
    verifier: Verifier | None = None,
    timeout_s: float = RG_TIMEOUT_S,
) -> str:
    """Declarations whose name matches the regular expression ``pattern`` (at most 5, and a last
    line saying how many matched when there were more), optionally only in modules whose path
    matches ``file_glob_pattern`` (e.g. ``Init/Data/Nat/*``), in the environment ``header`` imports
    (core Lean by default); each as ``Module/Path.lean: signature``. A pattern that does not
    compile, or takes more than ``timeout_s`` seconds over the names, is a :class:`ToolError`."""
    require_text("pattern", pattern, MAX_SHORT_ARG_CHARS)
    require_text("file_glob_pattern", file_glob_pattern, MAX_SHORT_ARG_CHARS)
    require_text("header", header, MAX_CODE_CHARS)
    try:
        rx = regex.compile(pattern)
    except regex.error as e:
        raise ToolError(f"pattern {pattern!r} is not a valid regular expression: {e}") from None
    lib = library(verifier)
    try:
        idx = lib.index(header)
    except (SessionCrashed, VerifyInputError) as e:
        raise ToolError(f"cannot search this environment: {e}") from None
    paths: dict[str, str] = {}  # module -> its path, matched against the glob once per module
    in_glob: dict[str, bool] = {}
    hits: list[tuple[str, str]] = []
    matched = 0
    deadline = time.monotonic() + timeout_s
    try:
        for name, module in zip(idx.names, idx.modules, strict=True):
            if module not in paths:
                paths[module] = module.replace(".", "/") + ".lean"
                in_glob[module] = not file_glob_pattern or fnmatch.fnmatch(paths[module], file_glob_pattern)
            if not in_glob[module]:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if rx.search(name, timeout=left):
                matched += 1
                if len(hits) < MAX_RG_HITS:
                    hits.append((paths[module], name))
    except TimeoutError:
        raise ToolError(
            f"pattern {pattern!r} took more than {timeout_s:g} s over the declaration names (it "
            f"backtracks too much); use a simpler pattern, e.g. without nested repetition such as (a|aa)*"
        ) from None
    if not hits:
        where = f" in modules matching {file_glob_pattern!r}" if file_glob_pattern else ""
        return f"no declaration name matches {pattern!r}{where} (among {len(idx)} names)"
    try:
        described = lib.describe([n for _, n in hits], header)
    except SessionCrashed as e:
        raise ToolError(f"cannot describe the matching declarations: {e}") from None
    lines = [
        f"{p}: {one_line(d.get('signature') or d['name'], MAX_SIGNATURE_CHARS)}"
        for (p, _), d in zip(hits, described, strict=True)
    ]
    if matched > len(hits):
        lines.append(
            f"[showing {len(hits)} of {matched} matching declarations; narrow the pattern or "
            f"file_glob_pattern for the others]"
        )
    return cap("\n".join(lines), MAX_FEEDBACK_CHARS)
