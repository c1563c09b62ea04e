"""LeanDojo interop: LeanDojo benchmark files as leanfd problems, and LeanDojo's ``Dojo`` as an
optional tactic-by-tactic backend.

A LeanDojo benchmark file (``random/test.json`` …) is a JSON array of traced theorems:
``url``, ``commit``, ``file_path``, ``full_name``, ``start``/``end`` (``[line, column]``), newer
exports also ``theorem_statement``, and ``traced_tactics``: ``{tactic, annotated_tactic: [text,
[{full_name, def_path, def_pos, def_end_pos}, ...]], state_before, state_after}``.

The file carries no checkable statement of its own, so the statement is recovered, in order of
preference (``LeanDojoTheorem.statement_source`` says which was used):

1. ``"source"``: with ``repo_dir`` (a checkout of ``url`` at ``commit``), the theorem's exact text
   from its file, cut at its top-level ``:=``; the rest of that text becomes the reference proof and
   the file's ``import``/``open`` lines the header. Exact, but the theorem may still rely on the
   file's ``namespace``/``variable``/``section`` context, which the header does not replay.
2. ``"theorem_statement"``: the same cut applied to the export's ``theorem_statement`` field.
3. ``"goal"``: rebuilt from the first traced tactic's ``state_before`` (the initial goal):
   hypotheses become binders (``inst✝ : C α`` → ``[C α]``, inaccessible names renamed), the
   ``⊢`` target the conclusion. This is the goal as Lean printed it, which does not always parse
   back (notation, coercion arrows, ``let`` hypotheses, several goals): such theorems are skipped
   and counted, never guessed.

Every problem is renamed ``leandojo_<full name>`` so that it cannot clash with the original in an
imported Mathlib; ``Problem.name`` is the ``full_name`` and ``Problem.source`` is
``leandojo:<file_path>``. These problems need Mathlib: check them with ``--backend native``.
Caveat: with ``import Mathlib`` the original theorem is in scope, so a policy could prove a problem
by citing it; screen such proofs (``cites_original``) when evaluating.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leanfd.data.problem import Problem
from leanfd.syntax import name_parts, tokenize, top_level_assign

DEFAULT_HEADER = "import Mathlib"
_SPLITS = ("train", "val", "test")
_INACCESSIBLE = re.compile(r"([^\s()\[\]{}:,]+?)✝([⁰¹²³⁴⁵⁶⁷⁸⁹]*)")
_HYP = re.compile(r"^(?P<names>[^\s:][^:]*?) : (?P<type>.+)$", re.S)


class LeanDojoFormatError(ValueError):
    """A LeanDojo benchmark file (or one theorem in it) is malformed; the message says where."""


@dataclass(frozen=True)
class TracedTactic:
    tactic: str
    state_before: str
    state_after: str
    premises: tuple[str, ...] = ()  # full names from annotated_tactic


@dataclass(frozen=True)
class LeanDojoTheorem:
    url: str
    commit: str
    file_path: str
    full_name: str
    start: tuple[int, int]
    end: tuple[int, int]
    traced_tactics: tuple[TracedTactic, ...] = ()
    theorem_statement: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def initial_goal(self) -> str | None:
        return self.traced_tactics[0].state_before if self.traced_tactics else None

    @property
    def problem_name(self) -> str:
        """The theorem's name in leanfd's statement (never the original's, see module doc)."""
        return "leandojo_" + re.sub(r"[^A-Za-z0-9_]", "_", self.full_name)


def _pos(v, where: str) -> tuple[int, int]:
    if isinstance(v, list | tuple) and len(v) == 2:
        return int(v[0]), int(v[1])
    if isinstance(v, str):  # older exports: "Pos(line_nb=12, column_nb=1)" or "(12, 1)"
        nums = re.findall(r"\d+", v)
        if len(nums) == 2:
            return int(nums[0]), int(nums[1])
    raise LeanDojoFormatError(f"{where}: position must be [line, column], got {v!r}")


def read_leandojo(path: str | Path) -> list[LeanDojoTheorem]:
    """Parse a LeanDojo benchmark JSON file (a JSON array of traced theorems)."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise LeanDojoFormatError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(rows, list):
        raise LeanDojoFormatError(f"{path}: expected a JSON array of theorems, got {type(rows).__name__}")
    out = []
    for i, row in enumerate(rows):
        where = f"{path}[{i}]"
        missing = [k for k in ("url", "commit", "file_path", "full_name", "start", "end") if k not in row]
        if missing:
            raise LeanDojoFormatError(
                f"{where}: missing field(s) {missing}; is this a LeanDojo benchmark file?"
            )
        tactics = []
        for j, t in enumerate(row.get("traced_tactics", [])):
            try:
                ann = t.get("annotated_tactic") or [t["tactic"], []]
                premises = tuple(a["full_name"] for a in (ann[1] if len(ann) > 1 else []) if "full_name" in a)
                tactics.append(TracedTactic(t["tactic"], t["state_before"], t["state_after"], premises))
            except (KeyError, TypeError, IndexError) as e:
                raise LeanDojoFormatError(f"{where}.traced_tactics[{j}]: malformed ({e!r})") from e
        known = {
            "url",
            "commit",
            "file_path",
            "full_name",
            "start",
            "end",
            "traced_tactics",
            "theorem_statement",
        }
        out.append(
            LeanDojoTheorem(
                url=row["url"],
                commit=row["commit"],
                file_path=row["file_path"],
                full_name=row["full_name"],
                start=_pos(row["start"], f"{where}.start"),
                end=_pos(row["end"], f"{where}.end"),
                traced_tactics=tuple(tactics),
                theorem_statement=row.get("theorem_statement"),
                extra={k: v for k, v in row.items() if k not in known},
            )
        )
    return out


# -- statement recovery -----------------------------------------------------------------------------


_DECL = re.compile(
    r"(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|nonrec|noncomputable)\s+)*(theorem|lemma)\s+(\S+)"
)


def _rename_decl(statement: str, new_name: str) -> str | None:
    """``theorem foo …``/``lemma foo …`` (after attributes and modifiers) → ``theorem NEW …``."""
    m = _DECL.search(statement)
    if not m:
        return None
    return statement[: m.start()] + f"theorem {new_name}" + statement[m.end() :]


def split_at_assign(decl: str) -> tuple[str, str] | None:
    """Split declaration text at its top-level ``:=`` into ``(statement incl. ':=', proof)``, or
    None when it has none (a declaration by pattern matching, ``| 0 => …``)."""
    i = top_level_assign(decl)
    return None if i is None else (decl[: i + 2], decl[i + 2 :])


def statement_from_text(decl: str, new_name: str) -> tuple[str, str] | None:
    """From a theorem's source text, ``(statement renamed to new_name, proof text)`` or None."""
    cut = split_at_assign(decl.strip())
    if cut is None:
        return None
    statement = _rename_decl(cut[0], new_name)
    return (statement.strip(), cut[1].strip()) if statement else None


def _parse_state(state: str) -> tuple[list[tuple[str, str]], str] | None:
    """Hypotheses ``[(names, type)]`` and target of the first goal of a pretty-printed state."""
    goal = state.strip().split("\n\n")[0]  # several goals are separated by blank lines
    hyps: list[list[str]] = []
    target: list[str] | None = None
    for line in goal.splitlines():
        if line.startswith("case "):
            continue
        if line.startswith("⊢"):
            target = [line[1:].strip()]
        elif target is not None:
            target.append(line.strip())
        elif line[:1].isspace() and hyps:
            hyps[-1].append(line.strip())  # a long hypothesis continues on an indented line
        else:
            hyps.append([line])
    if target is None:
        return None
    parsed = []
    for h in hyps:
        m = _HYP.match(" ".join(h))
        if not m:
            return None
        parsed.append((m["names"].strip(), m["type"].strip()))
    return parsed, " ".join(target)


def statement_from_goal(state: str, new_name: str) -> str | None:
    """Rebuild ``theorem NEW (binders) : target :=`` from a goal, or None if it cannot be done
    faithfully (``let`` hypotheses ``x : T := v``, no ``⊢``, unparsable hypothesis lines)."""
    parsed = _parse_state(state)
    if parsed is None:
        return None
    hyps, target = parsed
    renames: dict[str, str] = {}

    def fresh(m: re.Match) -> str:
        tok = m.group(0)
        if tok not in renames:
            renames[tok] = f"{m.group(1)}_{len(renames) + 1}".replace(".", "_")
        return renames[tok]

    binders = []
    for names, typ in hyps:
        if ":=" in typ:
            return None  # a let-bound hypothesis has no binder form
        names_list = names.split()
        if all(n.startswith("inst✝") for n in names_list):
            binders.extend(f"[{_INACCESSIBLE.sub(fresh, typ)}]" for _ in names_list)
            continue
        binders.append(f"({_INACCESSIBLE.sub(fresh, names)} : {_INACCESSIBLE.sub(fresh, typ)})")
    target = _INACCESSIBLE.sub(fresh, target)
    head = f"theorem {new_name}" + (" " + " ".join(binders) if binders else "")
    return f"{head} :\n    {target} :="


def _source_context(text: str) -> str:
    """The ``import``/``open`` lines at the top level of a Lean file, as a header."""
    keep = [ln for ln in text.splitlines() if re.match(r"^(import|open)\s", ln)]
    return "\n".join(keep)


def _slice(text: str, start: tuple[int, int], end: tuple[int, int]) -> str:
    """Text between two LeanDojo positions (1-based lines; columns 1-based, as LeanDojo's ``Pos``)."""
    lines = text.splitlines(keepends=True)
    (l0, c0), (l1, c1) = start, end
    if l0 == l1:
        return lines[l0 - 1][max(c0 - 1, 0) : c1]
    return lines[l0 - 1][max(c0 - 1, 0) :] + "".join(lines[l0 : l1 - 1]) + lines[l1 - 1][:c1]


def to_problem(
    thm: LeanDojoTheorem,
    *,
    header: str = DEFAULT_HEADER,
    split: str | None = None,
    repo_dir: Path | None = None,
    open_namespace: bool = True,
) -> tuple[Problem, str] | None:
    """The leanfd problem for ``thm`` and how its statement was recovered, or None if it cannot be.

    ``open_namespace`` adds ``open <namespace of full_name>`` to the header, so names the original
    resolved inside its namespace still resolve; Lean rejects it when the header does not import
    that namespace (e.g. a theorem from a repository that is not imported).
    """
    name = thm.problem_name
    source = f"leandojo:{thm.file_path}"
    open_ns = ".".join(thm.full_name.split(".")[:-1])
    opener = f"\nopen {open_ns}" if open_ns and open_namespace else ""
    if repo_dir is not None:
        path = Path(repo_dir) / thm.file_path
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            got = statement_from_text(_slice(text, thm.start, thm.end), name)
            if got:
                file_header = _source_context(text) or header
                return (
                    Problem(
                        name=thm.full_name,
                        statement=got[0],
                        header=file_header + opener,
                        split=split,
                        reference_proof=got[1] or None,
                        original_statement=_slice(text, thm.start, thm.end).strip(),
                        source=source,
                    ),
                    "source",
                )
    if thm.theorem_statement:
        got = statement_from_text(thm.theorem_statement, name)
        if got:
            return (
                Problem(
                    name=thm.full_name,
                    statement=got[0],
                    header=header + opener,
                    split=split,
                    original_statement=thm.theorem_statement,
                    source=source,
                ),
                "theorem_statement",
            )
    if thm.initial_goal:
        statement = statement_from_goal(thm.initial_goal, name)
        if statement:
            return (
                Problem(
                    name=thm.full_name,
                    statement=statement,
                    header=header + opener,
                    split=split,
                    original_statement=thm.initial_goal,
                    source=source,
                ),
                "goal",
            )
    return None


@dataclass
class LeanDojoSuite:
    """Problems loaded from a LeanDojo file, with the theorems they came from (same order)."""

    problems: list[Problem]
    theorems: list[LeanDojoTheorem]
    how: list[str]  # statement source per problem: "source" | "theorem_statement" | "goal"
    skipped: list[str]  # full names whose statement could not be recovered


def load_leandojo(
    path: str | Path,
    *,
    split: str | None = None,
    limit: int | None = None,
    header: str = DEFAULT_HEADER,
    repo_dir: str | Path | None = None,
    open_namespace: bool = True,
) -> LeanDojoSuite:
    """Load a LeanDojo benchmark file as leanfd problems (see the module doc for how statements are
    recovered). ``split`` defaults to the file's stem when that is train/val/test; ``header`` is
    used when statements do not come from source (default ``import Mathlib``, LeanDojo Benchmark 4's
    repository); ``open_namespace``: see :func:`to_problem`."""
    path = Path(path)
    if split is None and path.stem in _SPLITS:
        split = path.stem
    problems, theorems, how, skipped = [], [], [], []
    for thm in read_leandojo(path):
        repo = Path(repo_dir) if repo_dir else None
        got = to_problem(thm, header=header, split=split, repo_dir=repo, open_namespace=open_namespace)
        if got is None:
            skipped.append(thm.full_name)
            continue
        problems.append(got[0])
        theorems.append(thm)
        how.append(got[1])
        if limit is not None and len(problems) >= limit:
            break
    if not problems:
        raise LeanDojoFormatError(
            f"{path}: no theorem's statement could be recovered ({len(skipped)} skipped); pass "
            f"repo_dir= a checkout of the traced repository to read statements from source"
        )
    return LeanDojoSuite(problems, theorems, how, skipped)


def cites_original(proof: str, thm: LeanDojoTheorem) -> bool:
    """Whether ``proof`` names the original theorem (in scope under ``import Mathlib``): a name in
    its code whose components include the theorem's last one (``two_le``, ``Demo.two_le.symm``)."""
    short = (name_parts(thm.full_name) or [thm.full_name])[-1]
    return any(t.kind == "ident" and short in name_parts(t.text) for t in tokenize(proof))


# -- LeanDojo's Dojo: tactic-by-tactic interaction (optional) ---------------------------------------


@dataclass(frozen=True)
class DojoStep:
    """One tactic run in a Dojo: ``kind`` is ``state`` (goals remain, ``goals`` is their text),
    ``finished``, ``error`` (``error`` is Lean's message) or ``given_up``."""

    tactic: str
    kind: str
    goals: str = ""
    error: str = ""


def dojo_steps(thm: LeanDojoTheorem, tactics: Sequence[str], *, timeout_s: int = 600) -> list[DojoStep]:
    """Run ``tactics`` one by one on ``thm`` in LeanDojo's ``Dojo`` and return the goal after each
    (stops at the first error or when the proof is finished).

    Needs ``pip install lean-dojo`` and what it needs: elan, git, and network access to trace the
    repository at ``thm.url``/``thm.commit`` (LeanDojo traces it once and caches it). Uses the
    documented API: ``Dojo(Theorem(LeanGitRepo(url, commit), file_path, full_name))`` as a context
    manager yielding ``(dojo, initial_state)``, and ``dojo.run_tac(state, tactic)`` returning a
    ``TacticState`` (``.pp``), ``ProofFinished``, ``LeanError`` (``.error``) or ``ProofGivenUp``.
    """
    try:
        from lean_dojo import Dojo, LeanError, LeanGitRepo, ProofFinished, TacticState, Theorem
    except ImportError as e:
        raise ImportError(
            f"LeanDojo's Dojo needs the lean-dojo package ({e}); install it with `pip install lean-dojo` "
            f"on a machine with elan, git and GitHub access, or verify whole proofs with --backend native"
        ) from e
    theorem = Theorem(LeanGitRepo(thm.url, thm.commit), thm.file_path, thm.full_name)
    steps: list[DojoStep] = []
    with Dojo(theorem, timeout=timeout_s) as (dojo, state):
        for tac in tactics:
            res = dojo.run_tac(state, tac)
            if isinstance(res, TacticState):
                steps.append(DojoStep(tac, "state", goals=res.pp))
                state = res
            elif isinstance(res, ProofFinished):
                steps.append(DojoStep(tac, "finished"))
                break
            elif isinstance(res, LeanError):
                steps.append(DojoStep(tac, "error", error=res.error))
                break
            else:
                steps.append(DojoStep(tac, "given_up"))
                break
    return steps
