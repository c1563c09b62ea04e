"""Extracting the proof (the text after the statement's ``:=``) from a model completion.

Models answer in many shapes: a fenced ```lean block restating the theorem, a block holding only
``by ...``, several blocks (a draft then a fix), prose around the block, a fence the sampler cut off,
or no fence at all. :func:`extract_proof` returns the proof text the verifier should check, or
``None`` when the completion contains nothing that looks like one. It never judges correctness:
the verifier does (and refuses anything that is not a proof, e.g. a second declaration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n(.*?)(```|\Z)", re.DOTALL)
_LEAN_TAGS = {"lean", "lean4", ""}
_DECL = re.compile(
    r"^[ \t]*(?:@\[[^\]\n]*\][ \t]*)?(?:(?:private|protected|noncomputable)[ \t]+)*(theorem|lemma|example)\b",
    re.MULTILINE,
)
# A line at column 0 that starts a new command ends the proof (the verifier would refuse it anyway,
# and cutting here keeps a correct proof followed by e.g. `#eval` or a second theorem checkable).
_NEXT_COMMAND = re.compile(
    r"^(?:theorem|lemma|example|def|abbrev|instance|structure|inductive|class|axiom|namespace|section|"
    r"end\b|open|import|set_option|variable|universe|macro|syntax|notation|infix|elab|#|@\[|/--|--)",
)
_OPENERS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


@dataclass(frozen=True)
class _Block:
    tag: str
    code: str
    closed: bool


def _blocks(text: str) -> list[_Block]:
    return [_Block(m.group(1).lower(), m.group(2), m.group(3) == "```") for m in _FENCE.finditer(text)]


def _signature_end(code: str, start: int) -> int | None:
    """Index just past the ``:=`` that ends the declaration starting at ``start``: the first ``:=``
    outside brackets and comments (binder defaults such as ``(x : Nat := 0)`` are inside brackets)."""
    depth = 0
    i = start
    n = len(code)
    while i < n:
        c = code[i]
        if code.startswith("--", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
            continue
        if code.startswith("/-", i):
            j = code.find("-/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and code.startswith(":=", i):
            return i + 2
        i += 1
    return None


def _statement_pattern(statement: str) -> re.Pattern[str]:
    body = statement.strip()
    if body.endswith(":="):
        body = body[:-2].rstrip()
    parts = [re.escape(p) for p in body.split()]
    return re.compile(r"\s+".join(parts) + r"\s*:=")


def _cut_trailing(proof: str) -> str:
    """Drop what follows the proof: the next column-0 command, or prose after a blank line."""
    lines = proof.split("\n")
    kept: list[str] = []
    blank_seen = False
    for idx, line in enumerate(lines):
        at_col0 = bool(line) and not line[0].isspace()
        if idx > 0 and at_col0:
            if _NEXT_COMMAND.match(line) or blank_seen or line.startswith("```"):
                break
        if "```" in line:  # a fence glued to the last line, e.g. "  omega```"
            kept.append(line[: line.index("```")])
            break
        blank_seen = not line.strip()
        kept.append(line)
    return "\n".join(kept).strip()


def _proof_from_code(code: str, statement: str | None) -> str | None:
    """The proof part of one code block (or of fence-less text)."""
    start = None
    if statement:
        m = _statement_pattern(statement).search(code)
        if m:
            start = m.end()
    if start is None:
        decls = list(_DECL.finditer(code))
        if decls:
            if statement:
                name = _decl_name(statement)
                named = [d for d in decls if name and _decl_name(code[d.start() :]) == name]
                decl = named[-1] if named else decls[-1]
            else:
                decl = decls[-1]
            start = _signature_end(code, decl.end())
            if start is None:
                return None  # a statement without ":=": nothing proved here
    if start is not None:
        proof = _cut_trailing(code[start:])
    else:
        stripped = code.strip()
        if stripped.startswith(":="):
            stripped = stripped[2:].strip()
        proof = _cut_trailing(stripped)
    return proof or None


def _decl_name(text: str) -> str | None:
    m = re.search(r"\b(?:theorem|lemma)\s+([^\s:({\[⦃]+)", text)
    return m.group(1) if m else None


def _bare_by(text: str) -> str | None:
    """A fence-less completion: the first ``by`` that starts a line (or follows ``:=``) to the end
    of its block."""
    m = re.search(r"(?:^|:=)[ \t]*(by\b.*)", text, re.MULTILINE | re.DOTALL)
    if not m:
        return None
    return _cut_trailing(m.group(1)) or None


def extract_proof(completion: str, statement: str | None = None) -> str | None:
    """The proof text in ``completion`` (what follows the statement's ``:=``), or ``None``.

    Order of preference:
    1. fenced code blocks tagged ``lean``/``lean4`` (or untagged), the last closed one that yields
       a proof first, then earlier ones, then an unterminated block (a completion cut off by
       ``max_new_tokens``);
    2. without any fence: the restated theorem (``statement`` matched up to whitespace, else a
       ``theorem``/``lemma``/``example`` declaration) → its proof part; else a bare ``by ...``.

    Within a block: a restated theorem gives its proof part (the declaration named like
    ``statement`` when several are present); a block holding only the proof gives it, with a
    leading ``:=`` dropped. Trailing junk is cut at the next column-0 command, at a fence, or at
    column-0 prose after a blank line.
    """
    if not completion or not completion.strip():
        return None
    blocks = _blocks(completion)
    lean_blocks = [b for b in blocks if b.tag in _LEAN_TAGS]
    ordered = [b for b in reversed(lean_blocks) if b.closed] + [b for b in lean_blocks if not b.closed]
    for block in ordered:
        proof = _proof_from_code(block.code, statement)
        if proof:
            return proof
    if blocks:
        return None  # the model fenced its answer, and no fenced lean code holds a proof
    if statement and _statement_pattern(statement).search(completion) or _DECL.search(completion):
        proof = _proof_from_code(completion, statement)
        if proof:
            return proof
    return _bare_by(completion)
