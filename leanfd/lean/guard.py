"""Screen candidate proof text before Lean sees it.

Candidate text is data, not code. An RL policy will find any hole, so the guard refuses every
construct that can run code at elaboration time, change the environment, weaken the checks, or
step outside the theorem the trusted statement opens. It is the first of two walls: the Lean
session also checks that the attempt produced exactly one command and audits the axioms, so a
construct the guard misses still cannot turn into an accepted proof.

The guard works on the text with comments and string/char literals blanked out (so a forbidden
word inside a comment or string is harmless and allowed), by whole-word matching.
"""

from __future__ import annotations

import re

#: Maximum proof length in characters (longer text is refused before it reaches Lean).
MAX_PROOF_CHARS = 50_000

# word -> why it is refused. Keys are matched as whole identifiers (a dotted name such as
# `Nat.decide` does not match `decide`, nor does `mydef` match `def`).
_FORBIDDEN_WORDS: dict[str, str] = {
    # commands that run code or print
    "run_cmd": "runs meta code",
    "run_tac": "runs meta code",
    "run_elab": "runs meta code",
    "run_meta": "runs meta code",
    "by_elab": "runs meta code",
    # syntax extensions that would change how later text parses or elaborates
    "macro": "defines syntax",
    "macro_rules": "defines syntax",
    "syntax": "defines syntax",
    "elab": "defines an elaborator",
    "elab_rules": "defines an elaborator",
    "notation": "defines syntax",
    "notation3": "defines syntax",
    "infix": "defines syntax",
    "infixl": "defines syntax",
    "infixr": "defines syntax",
    "prefix": "defines syntax",
    "postfix": "defines syntax",
    "declare_syntax_cat": "defines syntax",
    "simproc": "defines a simplification procedure",
    "dsimproc": "defines a simplification procedure",
    # new declarations and environment changes
    "axiom": "declares an axiom",
    "opaque": "declares an opaque constant",
    "instance": "declares an instance",
    "attribute": "changes attributes",
    "theorem": "starts a second declaration",
    "lemma": "starts a second declaration",
    "def": "starts a second declaration",
    "abbrev": "starts a second declaration",
    "example": "starts a second declaration",
    "structure": "starts a second declaration",
    "class": "starts a second declaration",
    "inductive": "starts a second declaration",
    "coinductive": "starts a second declaration",
    "mutual": "starts a second declaration",
    "initialize": "runs code at import",
    "builtin_initialize": "runs code at import",
    "register_option": "declares an option",
    "universe": "changes the scope",
    "variable": "changes the scope",
    "omit": "changes the scope",
    "include": "changes the scope",
    "export": "changes the scope",
    "namespace": "escapes the theorem",
    "section": "escapes the theorem",
    "end": "escapes the theorem",
    "import": "imports a module",
    "deriving": "derives instances",
    # options and escape hatches from the kernel
    "set_option": "changes options (heartbeats, checks)",
    "maxHeartbeats": "changes the heartbeat limit",
    "maxRecDepth": "changes the recursion limit",
    "native_decide": "trusts compiled code (Lean.ofReduceBool)",
    "ofReduceBool": "trusts compiled code",
    "ofReduceNat": "trusts compiled code",
    "trustCompiler": "trusts compiled code",
    "implemented_by": "swaps in unverified code",
    "extern": "swaps in unverified code",
    "unsafe": "unsafe code",
    "partial": "unverified recursion",
    "noncomputable": "declaration modifier",
    "private": "declaration modifier",
    "protected": "declaration modifier",
    "local": "scoped syntax or attributes",
    "scoped": "scoped syntax or attributes",
    "sorryAx": "uses the sorry axiom directly",
    "unsafeCast": "unsafe code",
    "unsafeIO": "unsafe code",
    "unsafeBaseIO": "unsafe code",
    "unsafeEIO": "unsafe code",
    "ptrAddrUnsafe": "unsafe code",
    "dbg_trace": "runs code for its side effect",
    "dbgTrace": "runs code for its side effect",
    "IO": "mentions IO",
}

_ID = r"(?:[A-Za-z_\u00C0-\U0010FFFF][A-Za-z0-9_'!?\u00C0-\U0010FFFF]*|«[^»]*»)"
_IDENT = re.compile(rf"{_ID}(?:\.{_ID})*")
# Names refused wherever they appear in a dotted name (e.g. `Lean.ofReduceBool`).
_FORBIDDEN_ANYWHERE = {
    "native_decide", "ofReduceBool", "ofReduceNat", "trustCompiler", "implemented_by", "sorryAx",
    "unsafeCast", "unsafeIO", "unsafeBaseIO", "unsafeEIO", "ptrAddrUnsafe", "IO",
}  # fmt: skip
_CHAR_LITERAL = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
_HASH_COMMAND = re.compile(r"#[A-Za-z_]\w*")
_ATTRIBUTE = re.compile(r"@\[")
_OPEN = re.compile(r"\bopen\b")
# Lean's ASCII control characters other than tab/newline/CR have no business in a proof.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def comment_end(text: str, i: int) -> int | None:
    """If a Lean comment starts at ``text[i]``, the index just past it (a line comment ends before
    its newline; block comments ``/- -/`` nest); otherwise ``None``. Shared with the critic's
    tokenizer (``leanfd.critic.steps``)."""
    n = len(text)
    if text.startswith("--", i):
        j = text.find("\n", i)
        return n if j < 0 else j
    if text.startswith("/-", i):
        depth, j = 1, i + 2
        while j < n and depth:
            if text.startswith("/-", j):
                depth, j = depth + 1, j + 2
            elif text.startswith("-/", j):
                depth, j = depth - 1, j + 2
            else:
                j += 1
        return j
    return None


def blank_comments_and_strings(text: str) -> str:
    """Return ``text`` with comments and string/char literals replaced by spaces (newlines kept),
    so positions are unchanged. Handles nested ``/- -/`` block comments and escapes in strings.
    Written by hand: no Python library lexes Lean 4."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if (j := comment_end(text, i)) is not None:
            blank(i, j)
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'" and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_'!?")):
            # a char literal such as 'a' or '\n'; after an identifier character it is a prime (h')
            m = _CHAR_LITERAL.match(text, i)
            j = m.end() if m else i + 1
            blank(i, j)
            i = j
        else:
            i += 1
    return "".join(out)


def screen(proof: str) -> str | None:
    """Return why ``proof`` is refused, or ``None`` if it may be sent to Lean."""
    if len(proof) > MAX_PROOF_CHARS:
        return f"proof is {len(proof)} characters; the limit is {MAX_PROOF_CHARS}"
    if _CONTROL.search(proof):
        return "proof contains control characters"
    code = blank_comments_and_strings(proof)
    if m := _HASH_COMMAND.search(code):
        return f"`{m.group()}` is a command; a proof may not contain commands"
    if _ATTRIBUTE.search(code):
        return "`@[...]` attributes are not allowed in a proof"
    for m in _IDENT.finditer(code):
        parts = m.group().split(".")
        if parts[0] in _FORBIDDEN_WORDS:
            return f"`{parts[0]}` is not allowed in a proof ({_FORBIDDEN_WORDS[parts[0]]})"
        for part in parts[1:]:
            if part in _FORBIDDEN_ANYWHERE:
                return f"`{m.group()}` is not allowed in a proof ({_FORBIDDEN_WORDS[part]})"
    for m in _OPEN.finditer(code):
        rest = code[m.end() :].split("\n", 1)[0]
        if not re.search(r"\bin\b", rest):
            return "`open` is allowed only as `open ... in` inside the proof"
    return None
