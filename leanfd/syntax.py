"""Lean 4 lexing for the whole package: comments, literals, tokens, the top-level ``:=`` of a
signature, a file's leading imports, and the proof inside a model completion.

It follows Lean's own tokenizer (``Lean/Parser/Basic.lean``), because the guard is only as good as
its agreement with Lean on what is code: block comments nest and skip the character after ``/-``;
strings have escapes, raw strings ``r#"…"#`` have none; a ``'`` that starts a token is a char
literal, one inside an identifier a prime (``h'``); numbers take ``0x``/``0b``/``0o``, ``_`` and
exponents; identifiers use Lean's character classes, dotted parts and «guillemets». Hand-written:
no Python package lexes Lean 4. A leaf module (standard library only), so every package may use it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

OPENERS = "([{⟨⦃‹"
CLOSERS = ")]}⟩⦄›"
# Longest first, so ``<;>`` is not read as ``<`` ``;`` ``>`` and ``|>`` is not a bare ``|``.
_SYMBOLS = ("<;>", "<|>", "|>.", ":=", "=>", "||", "|>", "<|", "..", "::", "->", "<-", ">=", "<=")

# Lean's isLetterLike (Greek but λ, Π and Σ; Coptic; Greek extended; the letter-like block;
# mathematical alphanumerics) and isSubScriptAlnum. Lean's isAlpha is ASCII only. Where a newer
# Lean accepts more letters, a smaller class here only splits a name in two, which makes the guard
# stricter, never laxer.
_LETTER_LIKE = (
    "\u03b1-\u03ba\u03bc-\u03c9\u0391-\u039f\u03a1\u03a2\u03a4-\u03a9\u03ca-\u03fb"
    "\u1f00-\u1ffe\u2100-\u214f\U0001d49c-\U0001d59f"
)
_SUBSCRIPT = "\u2080-\u2089\u2090-\u209c\u1d62-\u1d6a"
_ID_PART = rf"(?:[A-Za-z_{_LETTER_LIKE}][A-Za-z0-9_'!?{_LETTER_LIKE}{_SUBSCRIPT}]*|«[^»]*»)"
_NUMBER = (
    r"0[bB][01_]*|0[oO][0-7_]*|0[xX][0-9a-fA-F_]*"
    r"|[0-9][0-9_]*(?:\.(?:[0-9][0-9_]*)?)?(?:[eE][+-]?[0-9][0-9_]*)?"
)
# A number first: after a digit Lean reads a numeral, so ``2end`` is ``2`` then ``end``.
_WORD = re.compile(rf"(?P<number>{_NUMBER})|(?P<ident>{_ID_PART}(?:\.{_ID_PART})*)")
_ID_PART_RE = re.compile(_ID_PART)
_CHAR = re.compile(r"""'(?:\\(?:[\\"'rnt]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})|[^\\'])'""", re.DOTALL)
_RAW_STRING_START = re.compile(r'r(#*)"')


def comment_end(text: str, i: int) -> int | None:
    """If a comment starts at ``text[i]``, the index just past it, else ``None``.

    A line comment ends before its newline. Block comments (``/- -/``, doc comments ``/-- -/`` and
    ``/-! -/``) nest; as in Lean, the character right after ``/-`` is skipped, so ``/-/- x -/``
    is one comment, not the start of a nested one. An unterminated comment runs to the end.

    >>> comment_end("by simp -- done", 8)
    15
    >>> text = "/- a /- b -/ c -/ rfl"
    >>> text[: comment_end(text, 0)]
    '/- a /- b -/ c -/'
    >>> comment_end("rfl", 0) is None
    True
    """
    n = len(text)
    if text.startswith("--", i):
        j = text.find("\n", i)
        return n if j < 0 else j
    if not text.startswith("/-", i):
        return None
    depth, j = 1, min(i + 3, n)
    while j < n and depth:
        if text.startswith("/-", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("-/", j):
            depth, j = depth - 1, j + 2
        else:
            j += 1
    return j


def _string_end(text: str, i: int) -> int:
    """Index just past the string literal opening at ``text[i]`` (a ``"``); an escape skips the
    character after its backslash (which covers ``\\"``, ``\\\\`` and string gaps)."""
    j, n = i + 1, len(text)
    while j < n and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, n)


def _lex(text: str) -> Iterator[tuple[str, int, int]]:
    """``(kind, start, end)`` of each lexeme, whitespace skipped; ``kind`` is ``comment``,
    ``string``, ``char``, ``number``, ``ident`` or ``symbol``. Text Lean would reject (an
    unterminated literal, a stray ``'``) still lexes, as code wherever that is the safer reading."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if (j := comment_end(text, i)) is not None:
            kind = "comment"
        elif c == '"':
            kind, j = "string", _string_end(text, i)
        elif c == "'" and (m := _CHAR.match(text, i)):
            kind, j = "char", m.end()
        elif c == "r" and (m := _RAW_STRING_START.match(text, i)):
            close = text.find('"' + m.group(1), m.end())
            kind, j = "string", (n if close < 0 else close + 1 + len(m.group(1)))
        elif m := _WORD.match(text, i):
            kind, j = m.lastgroup, m.end()
        else:
            kind, j = "symbol", i + len(next((s for s in _SYMBOLS if text.startswith(s, i)), c))
        yield kind, i, j
        i = j


@dataclass(frozen=True)
class Token:
    """A code token: ``kind`` is ``ident``, ``number``, ``string``, ``char`` or ``symbol``; ``line``
    is 1-based, ``col`` 0-based (code points), as in :class:`leanfd.lean.types.LeanMessage`."""

    text: str
    start: int
    end: int
    line: int
    col: int
    depth: int  # bracket depth before this token; a closer sits at the depth it closes back to
    line_start: bool  # first token on its line
    kind: str


def tokenize(text: str) -> list[Token]:
    """The code tokens of ``text`` (comments and whitespace dropped) with positions and bracket depth.

    >>> [(t.text, t.kind) for t in tokenize("exact h' 'a' -- c")]
    [('exact', 'ident'), ("h'", 'ident'), ("'a'", 'char')]
    >>> [(t.text, t.depth) for t in tokenize("f (x : Nat := 3)")][-3:]
    [(':=', 1), ('3', 1), (')', 0)]
    """
    line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    toks: list[Token] = []
    depth, last_line = 0, 0
    for kind, start, end in _lex(text):
        if kind == "comment":
            continue
        tok_text = text[start:end]
        d = depth
        if kind == "symbol" and tok_text in OPENERS:
            depth += 1
        elif kind == "symbol" and tok_text in CLOSERS:
            depth = d = max(0, depth - 1)
        line = bisect.bisect_right(line_starts, start)
        toks.append(
            Token(tok_text, start, end, line, start - line_starts[line - 1], d, line != last_line, kind)
        )
        last_line = line
    return toks


def blank_comments_and_strings(text: str) -> str:
    """``text`` with comments and string/char literals replaced by spaces (newlines kept), so
    positions are unchanged and what is left is the code Lean reads.

    A string holding ``{`` may be interpolated (``s!"{e}"``: Lean elaborates ``e``), and whether it
    is depends on the syntax before it, so from such a string on nothing is blanked.

    >>> blank_comments_and_strings('a -- c\\n"s\\\\"q" b')
    'a     \\n       b'
    >>> blank_comments_and_strings('s!"{x}" -- c')
    's!"{x}" -- c'
    """
    out = list(text)
    for kind, a, b in _lex(text):
        if kind == "string" and text[a] == '"' and "{" in text[a:b]:
            break
        if kind in ("comment", "string", "char"):
            out[a:b] = [ch if ch == "\n" else " " for ch in text[a:b]]
    return "".join(out)


def identifiers(code: str) -> Iterator[str]:
    """The identifiers in ``code``, which is read as code throughout (blank comments and strings
    first). Numerals are skipped as Lean reads them, so ``0x1def`` holds no ``def``.

    >>> list(identifiers("exact Nat.lt_of_le 0x1f h.1 «my name»"))
    ['exact', 'Nat.lt_of_le', 'h', '«my name»']
    """
    return (m.group() for m in _WORD.finditer(code) if m.lastgroup == "ident")


def name_parts(name: str) -> list[str]:
    """The components of a (dotted) identifier, guillemets removed: Lean reads ``«x»`` as ``x``.

    >>> name_parts("Lean.«ofReduceBool»")
    ['Lean', 'ofReduceBool']
    """
    return [p[1:-1] if p.startswith("«") else p for p in _ID_PART_RE.findall(name)]


def top_level_assign(text: str, start: int = 0) -> int | None:
    """Index of the first ``:=`` in ``text[start:]`` outside brackets, comments and literals (the
    one that ends a declaration's signature), or ``None``.

    >>> s = "theorem t (x : Nat := 3) (c : Char := ')') : x = x := rfl"
    >>> s[top_level_assign(s) :]
    ':= rfl'
    >>> top_level_assign("def f : Nat → Nat\\n  | 0 => 1\\n  | n+1 => n") is None
    True
    """
    for t in tokenize(text[start:]):
        if t.kind == "symbol" and t.text == ":=" and t.depth == 0:
            return start + t.start
    return None


# Only text up to the last word ``import`` can hold a file's imports (Lean allows comments before
# an import on its line, so the word need not start the line); the lexer decides which are code.
_IMPORT_ANYWHERE = re.compile(r"\bimport\b[^\n]*")
_IMPORT_LINE = re.compile(r"[ \t]*import[ \t]+(?P<mods>[^\n]*?)[ \t]*(?=\n|\Z)")


def file_imports(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The modules ``text`` imports in its leading ``import`` lines, and each line's span. Lean
    reads imports only before the first command, with any comments (nested ones too) around them;
    an ``import`` after the first command is not one of these (the guard refuses it).

    >>> text = "/- a /- b -/\\nimport Lean -/\\nimport Init -- c\\ntheorem t : True := trivial"
    >>> mods, spans = file_imports(text)
    >>> mods, [text[a:b] for a, b in spans]
    (['Init'], ['import Init -- c'])
    """
    # Lexing is left to right, so blanking that prefix alone gives the same code there.
    last = max((m.end() for m in _IMPORT_ANYWHERE.finditer(text)), default=0)
    code = blank_comments_and_strings(text[:last])
    mods: list[str] = []
    spans: list[tuple[int, int]] = []
    i = 0
    while True:
        while i < len(code) and code[i].isspace():
            i += 1
        m = _IMPORT_LINE.match(code, i)
        if not m or not m.group("mods"):
            return mods, spans
        mods.extend(m.group("mods").split())
        spans.append((m.start(), m.end()))
        i = m.end()


# --------------------------------------------------------------------------------------------------
# Proof extraction from a model completion
#
# Models answer in many shapes: a fenced ```lean block restating the theorem, a block holding only
# ``by ...``, several blocks (a draft then a fix), prose around the block, a fence the sampler cut
# off, or no fence at all. Extraction never judges correctness: the verifier does (and refuses
# anything that is not a proof, e.g. a second declaration).

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


@dataclass(frozen=True)
class _Block:
    tag: str
    code: str
    closed: bool


def _blocks(text: str) -> list[_Block]:
    return [_Block(m.group(1).lower(), m.group(2), m.group(3) == "```") for m in _FENCE.finditer(text)]


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


def _decl_name(text: str) -> str | None:
    m = re.search(r"\b(?:theorem|lemma)\s+([^\s:({\[⦃]+)", text)
    return m.group(1) if m else None


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
            decl = decls[-1]
            if statement and (name := _decl_name(statement)):
                named = [d for d in decls if _decl_name(code[d.start() :]) == name]
                decl = named[-1] if named else decl
            assign = top_level_assign(code, decl.end())
            if assign is None:
                return None  # a statement without ":=": nothing proved here
            start = assign + 2
    if start is not None:
        proof = _cut_trailing(code[start:])
    else:
        stripped = code.strip()
        if stripped.startswith(":="):
            stripped = stripped[2:].strip()
        proof = _cut_trailing(stripped)
    return proof or None


def _bare_by(text: str) -> str | None:
    """A fence-less completion: the first ``by`` that starts a line (or follows ``:=``) to the end
    of its block."""
    m = re.search(r"(?:^|:=)[ \t]*(by\b.*)", text, re.MULTILINE | re.DOTALL)
    if not m:
        return None
    return _cut_trailing(m.group(1)) or None


def extract_proof(completion: str, statement: str | None = None) -> str | None:
    """The proof text in ``completion`` (what follows the statement's ``:=``), or ``None`` when
    nothing in it looks like one.

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

    >>> st = "theorem two (n : Nat) : n + 0 = n :="
    >>> extract_proof("Sure:\\n```lean4\\ntheorem two (n : Nat) : n + 0 = n := by\\n  simp\\n```", st)
    'by\\n  simp'
    >>> extract_proof("I do not know.", st) is None
    True
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
