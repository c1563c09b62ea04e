"""The Lean lexer (leanfd.syntax), table by table: tokens, the top-level `:=`, what the guard sees as
code, identifiers, and proof extraction. The last table is checked against real Lean too: whatever
the lexer calls code, Lean runs; whatever it blanks, Lean does not."""

from __future__ import annotations

import pytest

from leanfd.syntax import (
    blank_comments_and_strings,
    extract_proof,
    file_imports,
    identifiers,
    name_parts,
    tokenize,
    top_level_assign,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        # comments: line, block, nested, doc; `/-` skips the character after it, as Lean does
        ("a -- b\nc", [("a", "ident"), ("c", "ident")]),
        ("a /- x /- y -/ z -/ b", [("a", "ident"), ("b", "ident")]),
        ("/-- doc -/ a /-! module doc -/ b", [("a", "ident"), ("b", "ident")]),
        ("/-/- x -/ a", [("a", "ident")]),
        ("a /- unterminated", [("a", "ident")]),
        ('a -- "not a string\nb', [("a", "ident"), ("b", "ident")]),
        # strings: escapes, and comment markers inside are text
        ('"x \\" -- y" z', [('"x \\" -- y"', "string"), ("z", "ident")]),
        ('"a /- b" c', [('"a /- b"', "string"), ("c", "ident")]),
        ('"\\\\" d', [('"\\\\"', "string"), ("d", "ident")]),
        ('"open', [('"open', "string")]),
        # raw strings have no escapes
        ('r"\\" d', [('r"\\"', "string"), ("d", "ident")]),
        ('r#"a "q" b"# c', [('r#"a "q" b"#', "string"), ("c", "ident")]),
        # char literals, and primes that are part of a name
        ("h' 'a' f' x''", [("h'", "ident"), ("'a'", "char"), ("f'", "ident"), ("x''", "ident")]),
        ("'\\'' '\\n' '\\x41' '\\u03B1'", [("'\\''", "char"), ("'\\n'", "char"), ("'\\x41'", "char"), ("'\\u03B1'", "char")]),
        ("'\"' a", [("'\"'", "char"), ("a", "ident")]),
        ("'(' a", [("'('", "char"), ("a", "ident")]),
        ("''", [("'", "symbol"), ("'", "symbol")]),
        # names: dots, guillemets, Lean's letters (not λ), subscripts
        ("Nat.succ_le «my name».x h₁'", [("Nat.succ_le", "ident"), ("«my name».x", "ident"), ("h₁'", "ident")]),
        ("λx ↦ αβ", [("λ", "symbol"), ("x", "ident"), ("↦", "symbol"), ("αβ", "ident")]),
        ("h.1", [("h", "ident"), (".", "symbol"), ("1", "number")]),
        # numbers as Lean reads them: a numeral ends where a name begins
        ("2end 0x1f 1_000 1.5e3", [("2", "number"), ("end", "ident"), ("0x1f", "number"), ("1_000", "number"), ("1.5e3", "number")]),
        # multi-character symbols
        ("a <;> b |>.c := d", [("a", "ident"), ("<;>", "symbol"), ("b", "ident"), ("|>.", "symbol"), ("c", "ident"), (":=", "symbol"), ("d", "ident")]),
    ],
)  # fmt: skip
def test_tokens(text, expected):
    assert [(t.text, t.kind) for t in tokenize(text)] == expected


def test_token_positions_and_depth():
    toks = tokenize("by\n  exact ⟨h, (a\n    b)⟩")
    assert [(t.text, t.line, t.col, t.depth, t.line_start) for t in toks] == [
        ("by", 1, 0, 0, True),
        ("exact", 2, 2, 0, True),
        ("⟨", 2, 8, 0, False),
        ("h", 2, 9, 1, False),
        (",", 2, 10, 1, False),
        ("(", 2, 12, 1, False),
        ("a", 2, 13, 2, False),
        ("b", 3, 4, 2, True),
        (")", 3, 5, 1, False),
        ("⟩", 3, 6, 0, False),
    ]


@pytest.mark.parametrize(
    "decl, rest",
    [
        ("theorem t (x : Nat := 3) : x = x := rfl", ":= rfl"),
        ("theorem t {α : Type} [Inhabited α] (xs : List α := []) : xs = xs := rfl", ":= rfl"),
        ("theorem t : True -- a := b\n  := trivial", ":= trivial"),
        ("theorem t /- a := /- b := -/ -/ : True := trivial", ":= trivial"),
        ('theorem t (s : String := ":= )") : s = s := rfl', ":= rfl"),
        ("theorem t (c : Char := '(') : c = c := rfl", ":= rfl"),
        ("theorem t (c : Char := ')') : c = c := rfl", ":= rfl"),
        ("theorem t' (h' : 1 = 1) : True := trivial", ":= trivial"),
        ("theorem t : ⟨1, 2⟩.1 = (1 : Nat) := rfl", ":= rfl"),
        ("def f : Nat → Nat\n  | 0 => 1\n  | n+1 => n", None),
        ("theorem t : True", None),
    ],
)
def test_top_level_assign(decl, rest):
    i = top_level_assign(decl)
    assert (None if i is None else decl[i:]) == rest


def test_top_level_assign_from_an_offset():
    text = "theorem a : True := trivial\ntheorem b (x : Nat := 1) : x = x := rfl"
    start = text.index("theorem b")
    assert text[top_level_assign(text, start) :] == ":= rfl"


@pytest.mark.parametrize(
    "text, code",
    [
        ("a -- c\n/- x\n-/ b", "a b"),
        ("a /- x /- y -/ still comment -/ b", "a b"),
        ('exact "def -- #eval" ▸ h', "exact ▸ h"),
        ("exact 'a'.toNat_pos h'", "exact .toNat_pos h'"),
        ("exact '\"' /- \" -/ h", "exact h"),
        # Lean's reading, where a naive lexer hides code: the comment ends at the first `-/`, the
        # raw string at its first quote (no escapes)
        ("trivial /-/- -/ #eval 1", "trivial #eval 1"),
        ('trivial r"\\" #eval 1 --"', "trivial #eval 1"),
        # a string holding `{` may be interpolated (code inside braces): nothing after it is blanked
        ('s!"{run_tac x}" -- c', 's!"{run_tac x}" -- c'),
    ],
)
def test_blanking_leaves_the_code(text, code):
    out = blank_comments_and_strings(text)
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert out.split() == code.split()


@pytest.mark.parametrize(
    "code, names",
    [
        ("exact Nat.lt_of_le h.1", ["exact", "Nat.lt_of_le", "h"]),
        ("exact ⟨sorryAx _ false, h⟩", ["exact", "sorryAx", "_", "false", "h"]),
        ("0x1def 2end 1e5macro", ["end", "macro"]),
        ("←IO.println x", ["IO.println", "x"]),
        ("Lean.«ofReduceBool» «my name»", ["Lean.«ofReduceBool»", "«my name»"]),
    ],
)
def test_identifiers(code, names):
    assert list(identifiers(code)) == names


@pytest.mark.parametrize(
    "name, parts",
    [
        ("Nat.succ", ["Nat", "succ"]),
        ("Lean.«ofReduceBool»", ["Lean", "ofReduceBool"]),
        ("«a.b».c", ["a.b", "c"]),
    ],
)
def test_name_parts(name, parts):
    assert name_parts(name) == parts


# A file's leading imports: comments (nested ones too) may sit before, between and after them; an
# `import` inside a comment, or after the first command, is not one.
IMPORTS = [
    ("import Init\nimport Std.Data\ntheorem t : True := trivial", ["Init", "Std.Data"]),
    ("import Init Std  -- two on a line\ntheorem t : True := trivial", ["Init", "Std"]),
    ("theorem t : True := trivial", []),
    ("/- a /- b -/ c -/\nimport Init\ntheorem t : True := trivial", ["Init"]),
    ("/- a /- b -/\nimport Lean\n-/\nimport Init\ntheorem t : True := trivial", ["Init"]),
    ("import Init\n/- a /- b -/\nimport Lean -/\nimport Std\ntheorem t : True := trivial", ["Init", "Std"]),
    ("/- a /- b -/ -/ import Init\ntheorem t : True := trivial", ["Init"]),
    ("-- import Lean\nimport Init", ["Init"]),
    ("/-- doc -/\ntheorem t : True := trivial\nimport Lean", []),
    ("/- unterminated\nimport Lean", []),
]


@pytest.mark.parametrize("text, mods", IMPORTS)
def test_file_imports(text, mods):
    found, spans = file_imports(text)
    assert found == mods
    assert all(text[a:b].startswith("import ") for a, b in spans) and bool(spans) == bool(mods)


@pytest.mark.parametrize("text, mods", IMPORTS)
def test_leanfd_check_reads_the_same_imports(text, mods):
    """`leanfd check` picks its session by these imports and blanks exactly their lines."""
    from leanfd.lean.check import leading_imports

    imports, source = leading_imports(text)
    assert imports == (tuple(mods) or ("Init",))
    assert len(source) == len(text) and source.count("\n") == text.count("\n")
    assert file_imports(source)[0] == []
    assert source.replace(" ", "") == "".join(
        text[i] for i in range(len(text)) if not any(a <= i < b for a, b in file_imports(text)[1])
    ).replace(" ", "")


ST = "theorem add_zero' (n : Nat) : n + 0 = n :="


@pytest.mark.parametrize(
    "completion, statement, proof",
    [
        (f"```lean4\n{ST} by\n  simp\n```", ST, "by\n  simp"),
        (f"```lean4\n{ST}\n  Nat.add_zero n\n```", ST, "Nat.add_zero n"),
        ("```lean4\n:= by omega\n```", ST, "by omega"),
        (f"```lean4\n{ST} by\n  simp\n#eval 1\n```", ST, "by\n  simp"),
        ("We prove this by induction on n.", ST, None),
        ("by\n  omega\n\nThat's it.", ST, "by\n  omega"),
        # the signature's own `:=` is found past defaults, literals and comments
        ("```lean4\ntheorem t (x : Nat := 0) : x = x := by\n  rfl\n```", None, "by\n  rfl"),
        ("```lean4\ntheorem t (c : Char := '(') : c = c := by\n  rfl\n```", None, "by\n  rfl"),
        ('```lean4\ntheorem t (s : String := ":=") : s = s := by\n  rfl\n```', None, "by\n  rfl"),
        ("```lean4\ntheorem t /- a /- := -/ -/ : True := by trivial\n```", None, "by trivial"),
        ("```lean4\ntheorem t : True -- note := junk\n  := by trivial\n```", None, "by trivial"),
    ],
)
def test_extract_proof(completion, statement, proof):
    assert extract_proof(completion, statement) == proof


# What Lean runs, by the lexer's reading: each proof holds one marker (an `#eval` or a `trace`
# printing it); the lexer leaves the marker's word in the code exactly when Lean runs it.
AGREEMENT = [
    ("by trivial\n-- #eval 101", "#eval", False),
    ("by trivial /- /- -/\n#eval 102 -/", "#eval", False),
    ('by exact (fun _ => trivial) "\n#eval 103\n"', "#eval", False),
    ("by trivial /-/- -/\n#eval 104", "#eval", True),
    ('by trivial)\nr"\\"\n#eval 105\n--"', "#eval", True),
    ("by exact (fun _ => trivial) '\"'\n#eval 106", "#eval", True),
    ('by\n  have : String := s!"{(by trace "107"; exact 0 : Nat)}"\n  trivial', "trace", True),
]


@pytest.mark.parametrize("proof, word, runs", AGREEMENT)
def test_lexer_reads_code_where_lean_does(proof, word, runs):
    assert (word in blank_comments_and_strings(proof)) == runs


@pytest.mark.lean
def test_lean_runs_what_the_lexer_reads_as_code(verifier, monkeypatch):
    """Real Lean on each row (the guard, which would refuse the `runs` rows, is bypassed)."""
    import leanfd.lean.verify as verify
    from leanfd.data.problem import Attempt, Problem

    monkeypatch.setattr(verify, "screen", lambda proof, *args: None)
    problem = Problem("t", "theorem t : True :=")
    verdicts = verifier.verify([Attempt(problem, proof) for proof, _, _ in AGREEMENT])
    for k, ((proof, _, runs), verdict) in enumerate(zip(AGREEMENT, verdicts, strict=True)):
        marker = str(101 + k)
        printed = any(m.severity == "information" and m.text.strip() == marker for m in verdict.messages)
        assert printed == runs, (proof, verdict.status, [m.text for m in verdict.messages])
