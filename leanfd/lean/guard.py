"""Screen candidate proofs and whole files before Lean sees them.

Candidate text is data, not code. An RL policy will find any hole, so the guard refuses every
construct that can run code with effects at elaboration time, read the host's files or
environment, change the environment, weaken the checks, or step outside the theorem the trusted
statement opens. It is the first of two walls: the Lean session also checks that a proof produced
exactly one command (a file: only the commands :func:`file_command_refusal` allows), compares a
file's theorem with the trusted statement, and audits the axioms, so a construct the guard misses
still cannot turn into an accepted proof.

Code that runs at elaboration is not only `#eval`: Lean compiles and runs tactic configuration
terms (``simp (maxSteps := t)`` runs ``t``; measured with a ``panic!`` in ``t``), and
``decide +native`` runs compiled code. Such code is pure: it cannot forge the world token that IO
needs (``IO.RealWorld`` is an opaque nonempty type), so it reaches the host only through the
unsafe primitives refused below, or through elaborators that do IO themselves (``include_str``,
``bv_check``, ``bv_decide``, ``polyrith``), also refused.

The guard works on the text with comments and string/char literals blanked out (so a forbidden
word inside a comment or string is harmless and allowed), by whole-identifier matching; the lexing
is :mod:`leanfd.syntax`, which reads comments, literals and names as Lean does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from leanfd.syntax import Token, blank_comments_and_strings, file_imports, identifiers, name_parts, tokenize

#: Maximum proof length in characters (longer text is refused before it reaches Lean).
MAX_PROOF_CHARS = 50_000
#: Maximum whole-file length: a file carries helper lemmas, so it may be longer than a proof; the
#: bound keeps one attempt's parse time and memory small.
MAX_FILE_CHARS = 100_000
#: The highest ``maxRecDepth`` an attempt may set (higher values are lowered to it). It bounds
#: elaborator recursion and is not what keeps the process alive: a term nested 2000 deep already
#: overflows the embedded Lean's stack at the default 512 (measured), and a crash costs one attempt
#: and a session restart. So the cap sits high, where it lowers no value a proof plausibly needs.
MAX_REC_DEPTH = 100_000


@dataclass(frozen=True)
class Policy:
    """A named preset of what "proved" means. The rules are the guard's and the judge's; a preset
    only says which of them it relaxes, so every preset reads the same rule table."""

    name: str
    summary: str
    #: Words of the rule table a proof or file may use under this preset.
    trusted_words: frozenset[str] = frozenset()
    #: Axioms a proved verdict may depend on besides the standard ones (named in its reason).
    trusted_axioms: frozenset[str] = frozenset()
    #: Honour the attempt's and the header's ``set_option maxHeartbeats N`` (``0`` too) instead of
    #: capping them at the verifier's limit; the wall-clock limit still bounds every attempt.
    own_heartbeats: bool = False


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy(
            "strict",
            "no compiled code trusted; heartbeats capped at the verifier's limit",
        ),
        Policy(
            "published",
            "as released prover numbers count: native_decide accepted (it trusts the compiler, "
            "Lean.ofReduceBool) and the file's or header's maxHeartbeats (0 too) honoured under the "
            "wall-clock limit",
            trusted_words=frozenset({"native_decide"}),
            trusted_axioms=frozenset({"Lean.ofReduceBool", "Lean.trustCompiler"}),
            own_heartbeats=True,
        ),
    )
}


def policy(name: str) -> Policy:
    """The preset called ``name``; a ``ValueError`` names the presets there are."""
    if name not in POLICIES:
        raise ValueError(f"unknown verify policy {name!r}; use one of {', '.join(POLICIES)}")
    return POLICIES[name]


def option_limit(heartbeats: int, preset: str) -> int:
    """The heartbeat limit an attempt's own options are held to: the verifier's, or none (0)
    under a preset that honours them."""
    return 0 if policy(preset).own_heartbeats else heartbeats


# word -> why it is refused. Keys are matched as whole identifiers (a dotted name such as
# `Nat.decide` does not match `decide`, nor does `mydef` match `def`).
_FORBIDDEN_WORDS: dict[str, str] = {
    # commands that run code or print
    "run_cmd": "runs meta code",
    "run_tac": "runs meta code",
    "run_elab": "runs meta code",
    "run_meta": "runs meta code",
    "by_elab": "runs meta code",
    # elaborators that read host files or run host programs at elaboration time
    "include_str": "reads a host file",
    "bv_check": "reads a host file (an LRAT proof)",
    "bv_decide": "runs an external SAT solver and writes host files",
    "bv_decide?": "runs an external SAT solver and writes host files",
    "polyrith": "calls a web service",
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
    # `set_option NAME VALUE` is checked on its own (see _OPTIONS); the bare words are refused
    "set_option": "changes options (heartbeats, checks)",
    "maxHeartbeats": "changes the heartbeat limit",
    "maxRecDepth": "changes the recursion limit",
    "native_decide": "trusts compiled code (Lean.ofReduceBool)",
    "native": "trusts compiled code (`decide +native`, Lean.ofReduceBool)",
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
_DECIMAL = re.compile(r"[0-9][0-9_]*")
_BOOL = ("true", "false")

# Options an attempt may set, with `set_option NAME VALUE` (at the top of a file, or `... in` on a
# declaration, a tactic or a term), and why each is harmless. Every other option is refused: some
# switch checks off (`debug.skipKernelTC`), some write host files (`trace.profiler.output`).
#   maxHeartbeats  bounds elaboration work: a value above the verifier's limit is lowered to it,
#                  and 0 (no limit) is refused while the verifier has a limit
#   maxRecDepth    bounds elaborator recursion: lowered to MAX_REC_DEPTH
#   tactic.hygienic  whether tactic-introduced names are accessible; changes no check
#   pp.*           how Lean prints terms in messages; changes no check
_NAT_OPTIONS = ("maxHeartbeats", "maxRecDepth")


def _option_refusal(name: str, value: str, heartbeats: int) -> str | None:
    """Why ``set_option name value`` is refused, or ``None``."""
    if name in _NAT_OPTIONS:
        if not _DECIMAL.fullmatch(value):
            return f"`set_option {name}` takes a decimal number here, got `{value}`"
        if name == "maxHeartbeats" and int(value.replace("_", "")) == 0 and heartbeats > 0:
            return "`set_option maxHeartbeats 0` (no limit) is not allowed; the verifier's limit applies"
        return None
    if name == "tactic.hygienic" or name.startswith("pp."):
        if value in _BOOL or (name.startswith("pp.") and _DECIMAL.fullmatch(value)):
            return None
        return f"`set_option {name}` takes true or false here, got `{value}`"
    return f"`set_option {name}` is not allowed; options an attempt may set: maxHeartbeats, maxRecDepth, tactic.hygienic, pp.*"


def _options(text: str) -> Iterator[tuple[str, Token | None, Token | None]]:
    """Each ``set_option`` in ``text``: the option's name (guillemets removed, as Lean reads it),
    and its name and value tokens (``None`` where the text ends first)."""
    if "set_option" not in text:  # most attempts: skip the tokenizer
        return
    toks = tokenize(text)
    for k, t in enumerate(toks):
        if t.kind == "ident" and t.text == "set_option":
            name = toks[k + 1] if k + 1 < len(toks) else None
            value = toks[k + 2] if k + 2 < len(toks) else None
            yield (".".join(name_parts(name.text)) if name else ""), name, value


def _screen_options(text: str, heartbeats: int) -> str | None:
    for name, name_tok, value in _options(text):
        if name_tok is None or name_tok.kind != "ident" or value is None:
            return "`set_option` needs an option name and a value"
        if reason := _option_refusal(name, value.text, heartbeats):
            return reason
    return None


def _without_options(code: str, text: str) -> str:
    """``code`` with each ``set_option NAME VALUE`` blanked (they were checked on their own)."""
    out = list(code)
    for _, name_tok, value in _options(text):
        if name_tok is not None and value is not None:
            start = text.rfind("set_option", 0, name_tok.start)
            out[start : value.end] = [" "] * (value.end - start)
    return "".join(out)


def cap_options(text: str, heartbeats: int) -> str:
    """``text`` with every ``maxHeartbeats`` above ``heartbeats`` (unless 0 = no limit) and every
    ``maxRecDepth`` above :data:`MAX_REC_DEPTH` lowered to the limit. The new number is padded
    with spaces to the old one's length, so every position in the text stays where it was."""
    out = text
    for name, _, value in reversed(list(_options(text))):
        if name not in _NAT_OPTIONS or value is None or not _DECIMAL.fullmatch(value.text):
            continue
        cap = MAX_REC_DEPTH if name == "maxRecDepth" else heartbeats
        if cap > 0 and int(value.text.replace("_", "")) > cap:
            new = str(cap).ljust(len(value.text))  # a bigger decimal has at least as many digits
            out = out[: value.start] + new + out[value.end :]
    return out


def _screen_words(code: str, words: dict[str, str], what: str, trusted: frozenset[str]) -> str | None:
    if m := _HASH_COMMAND.search(code):
        return f"`{m.group()}` is a command; {what} may not contain commands"
    if _ATTRIBUTE.search(code):
        return f"`@[...]` attributes are not allowed in {what}"
    for name in identifiers(code):
        parts = name_parts(name)
        if parts[0] in words and parts[0] not in trusted:
            return f"`{parts[0]}` is not allowed in {what} ({words[parts[0]]})"
        for part in parts[1:]:
            if part in _FORBIDDEN_ANYWHERE and part not in trusted:
                return f"`{name}` is not allowed in {what} ({_FORBIDDEN_WORDS[part]})"
    return None


def screen(proof: str, heartbeats: int = 200_000, preset: str = "strict") -> str | None:
    """Return why ``proof`` is refused, or ``None`` if it may be sent to Lean. ``heartbeats`` is
    the verifier's limit (``set_option maxHeartbeats 0 in`` is refused under one, unless the
    ``preset`` honours the attempt's own)."""
    if len(proof) > MAX_PROOF_CHARS:
        return f"proof is {len(proof)} characters; the limit is {MAX_PROOF_CHARS}"
    if _CONTROL.search(proof):
        return "proof contains control characters"
    if reason := _screen_options(proof, option_limit(heartbeats, preset)):
        return reason
    code = _without_options(blank_comments_and_strings(proof), proof)
    if reason := _screen_words(code, _FORBIDDEN_WORDS, "a proof", policy(preset).trusted_words):
        return reason
    for m in _OPEN.finditer(code):
        rest = code[m.end() :].split("\n", 1)[0]
        if not re.search(r"\bin\b", rest):
            return "`open` is allowed only as `open ... in` inside the proof"
    return None


# ------------------------------------------------------------------------------------------------
# Whole files: the same rules, except for what a file adds around its theorem.

# A file may also hold, and why each is harmless:
#   theorem / lemma / def / abbrev  helper declarations: checked by the kernel like the theorem,
#                  and the axiom audit follows the theorem into every one it uses; a file cannot
#                  redeclare a name the statement mentions (Lean refuses an existing name), and the
#                  statement comparison would see a different constant
#   private / protected / noncomputable  name visibility and code generation only (a private or
#                  namespaced theorem is not the root-namespace theorem the problem names)
#   scoped         only modifies notation, instances and attributes, all refused; `open scoped X`
#                  activates what the library already scoped to X
#   open X (top level)  name resolution only; a name that resolves differently makes a
#                  different statement, which the statement comparison refuses
#   import M       at the top, and only modules the problem's header imports (see file_imports)
# Still refused in files, as in proofs: commands (`#eval` …), `example` (no use, and a place for
# any other effect), `instance`/`attribute`/`@[…]`, syntax extensions, `namespace`/`section`/`end`,
# `variable`/`universe`, `mutual`, `axiom`/`opaque`, `partial`/`unsafe`, and every option but those
# in _OPTIONS.
_FILE_ALLOWED = {"theorem", "lemma", "def", "abbrev", "private", "protected", "noncomputable", "scoped"}
_FILE_WORDS = {w: why for w, why in _FORBIDDEN_WORDS.items() if w not in _FILE_ALLOWED}
_FILE_WORDS["import"] = "imports are allowed only at the top of the file"
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_']*(?:\.[A-Za-z_][A-Za-z0-9_']*)*")

# The commands a file may consist of, as the Lean session names them (the second wall: whatever
# the guard lets through, a command of any other kind makes the file `forbidden`).
_FILE_COMMANDS = {
    "Lean.Parser.Command.declaration/Lean.Parser.Command.theorem",
    "Lean.Parser.Command.declaration/Lean.Parser.Command.definition",
    "Lean.Parser.Command.declaration/Lean.Parser.Command.abbrev",
    "lemma",  # Mathlib's `lemma`, a macro for `theorem`
    "Lean.Parser.Command.open",
    "Lean.Parser.Command.moduleDoc",  # a `/-! … -/` comment
}
_SET_OPTION = "Lean.Parser.Command.set_option "


def normalise_file(text: str) -> str:
    """A file as the verifier reads it: Windows line ends become ``\\n`` (lines and columns stay
    the same)."""
    return text.replace("\r\n", "\n")


def screen_file(
    text: str, imports: tuple[str, ...] | list[str], heartbeats: int = 200_000, preset: str = "strict"
) -> str | None:
    """Return why the whole-file attempt ``text`` is refused, or ``None``. ``imports`` are the
    modules the problem's header imports; the file may import only those (and ``Init``): its
    theorem is elaborated in the session that imported the header, so another module would need
    another session (3 GB and ~45 s each, per distinct import set: a cheap way to exhaust the
    machine), and the statement comparison is made in the header's environment."""
    text = normalise_file(text)
    if len(text) > MAX_FILE_CHARS:
        return f"file is {len(text)} characters; the limit is {MAX_FILE_CHARS}"
    if "\r" in text:
        return "file contains a carriage return that does not end a line"
    if _CONTROL.search(text):
        return "file contains control characters"
    if not text.strip():
        return "the file is empty"
    mods, spans = file_imports(text)
    allowed = {"Init", *imports}
    for mod in mods:
        if not _MODULE.fullmatch(mod):
            return f"`import {mod}` is not a module name"
        if mod not in allowed:
            return (
                f"the file imports {mod}, which the problem's header does not "
                f"(it imports {', '.join(sorted(allowed))}); a file may import only those"
            )
    if reason := _screen_options(text, option_limit(heartbeats, preset)):
        return reason
    code = blank_comments_and_strings(text)
    for a, b in spans:
        code = code[:a] + " " * (b - a) + code[b:]
    if next(identifiers(code), None) == "in":  # it would continue the verifier's own last command
        return "the file starts with `in`"
    return _screen_words(_without_options(code, text), _FILE_WORDS, "a file", policy(preset).trusted_words)


def file_command_refusal(shape: str) -> str | None:
    """Why a file may not hold a command of this shape (as the Lean session reports it: its kind,
    with the declared kind, the option's name, or both sides of `A in B`), or ``None``."""
    if " in " in shape:
        head, _, rest = shape.partition(" in ")
        if head != "Lean.Parser.Command.open" and not head.startswith(_SET_OPTION):
            return f"`{_short(head)} in` is allowed only as `open … in` or `set_option … in`"
        return file_command_refusal(head) or file_command_refusal(rest)
    if shape.startswith(_SET_OPTION):
        name = shape[len(_SET_OPTION) :]
        if name in _NAT_OPTIONS or name == "tactic.hygienic" or name.startswith("pp."):
            return None
        return f"`set_option {name}` is not allowed"
    if shape in _FILE_COMMANDS:
        return None
    return f"`{_short(shape)}` commands are not allowed in a file"


def _short(shape: str) -> str:
    return shape.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
