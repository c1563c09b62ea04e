"""Screen candidate proof text before Lean sees it.

Candidate text is data, not code. An RL policy will find any hole, so the guard refuses every
construct that can run code at elaboration time, change the environment, weaken the checks, or
step outside the theorem the trusted statement opens. It is the first of two walls: the Lean
session also checks that the attempt produced exactly one command and audits the axioms, so a
construct the guard misses still cannot turn into an accepted proof.

The guard works on the text with comments and string/char literals blanked out (so a forbidden
word inside a comment or string is harmless and allowed), by whole-identifier matching; the lexing
is :mod:`leanfd.syntax`, which reads comments, literals and names as Lean does.
"""

from __future__ import annotations

import re

from leanfd.syntax import blank_comments_and_strings, identifiers, name_parts

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

# Names refused wherever they appear in a dotted name (e.g. `Lean.ofReduceBool`).
_FORBIDDEN_ANYWHERE = {
    "native_decide", "ofReduceBool", "ofReduceNat", "trustCompiler", "implemented_by", "sorryAx",
    "unsafeCast", "unsafeIO", "unsafeBaseIO", "unsafeEIO", "ptrAddrUnsafe", "IO",
}  # fmt: skip
_HASH_COMMAND = re.compile(r"#[A-Za-z_]\w*")
_ATTRIBUTE = re.compile(r"@\[")
_OPEN = re.compile(r"\bopen\b")
# Lean's ASCII control characters other than tab/newline/CR have no business in a proof.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    for name in identifiers(code):
        parts = name_parts(name)
        if parts[0] in _FORBIDDEN_WORDS:
            return f"`{parts[0]}` is not allowed in a proof ({_FORBIDDEN_WORDS[parts[0]]})"
        for part in parts[1:]:
            if part in _FORBIDDEN_ANYWHERE:
                return f"`{name}` is not allowed in a proof ({_FORBIDDEN_WORDS[part]})"
    for m in _OPEN.finditer(code):
        rest = code[m.end() :].split("\n", 1)[0]
        if not re.search(r"\bin\b", rest):
            return "`open` is allowed only as `open ... in` inside the proof"
    return None
