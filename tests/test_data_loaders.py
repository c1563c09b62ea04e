"""Suite loaders: miniF2F and user JSONL, normalisation, filters, errors, Mathlib detection, few-shot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanfd.data import (
    BackendUnsupportedError,
    Problem,
    SuiteFormatError,
    check_backend_supports,
    few_shot_examples,
    load_suite,
    mathlib_requirement,
    needs_mathlib,
)
from leanfd.data.loaders import normalise_statement

MINIF2F_HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def minif2f_row(name: str, split: str = "valid", body: str = "(n : ℕ) : n + 0 = n") -> dict:
    return {
        "name": name,
        "split": split,
        "informal_prefix": f"/-- Show that {name} holds.-/\n",
        "formal_statement": f"theorem {name} {body} := by\n",
        "goal": "n : ℕ\n⊢ n + 0 = n",
        "header": MINIF2F_HEADER,
    }


def test_minif2f_row_is_normalised_and_keeps_original(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [minif2f_row("foo")])
    (p,) = load_suite(path)
    assert p.statement == "theorem foo (n : ℕ) : n + 0 = n :="
    assert p.original_statement == "theorem foo (n : ℕ) : n + 0 = n := by\n"
    assert p.header == MINIF2F_HEADER
    assert p.informal == "Show that foo holds."
    assert p.split == "valid" and p.source == "minif2f" and p.reference_proof is None
    # A proof "by ..." after the normalised statement reconstructs the original text.
    assert (p.statement + " by\n") == p.original_statement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("theorem a : 1 = 1 := by\n", "theorem a : 1 = 1 :="),
        ("theorem a : 1 = 1 :=  by  ", "theorem a : 1 = 1 :="),
        ("theorem a : 1 = 1 :=\n  by\n", "theorem a : 1 = 1 :="),
        ("theorem a : 1 = 1 :=", "theorem a : 1 = 1 :="),
        ("theorem a (hby : True) : 1 = 1 :=\n", "theorem a (hby : True) : 1 = 1 :="),
    ],
)
def test_normalise_statement(text, expected):
    assert normalise_statement(text) == expected


@pytest.mark.parametrize(
    "text", ["theorem a : 1 = 1 := by rfl", "theorem a : 1 = 1 := by sorry", "theorem a : 1 = 1"]
)
def test_normalise_statement_rejects_proofs_and_missing_assign(text):
    with pytest.raises(SuiteFormatError, match="must end with ':=' or ':= by'"):
        normalise_statement(text, "f.jsonl:3")


def test_user_rows_proof_aliases_and_defaults(tmp_path):
    path = write_jsonl(
        tmp_path / "u.jsonl",
        [
            {"name": "a", "statement": "theorem a : 2 + 2 = 4 :=", "proof": "by decide"},
            {"name": "b", "statement": "theorem b (n : Nat) : n + 0 = n := by", "reference_proof": "by simp"},
            "",  # blank lines are skipped
            {"name": "c", "statement": "example : True :=", "split": "test", "extra": 1},
        ],
    )
    a, b, c = load_suite(path)
    assert a.reference_proof == "by decide" and a.header == "" and a.split is None
    assert a.original_statement is None
    assert b.statement == "theorem b (n : Nat) : n + 0 = n :=" and b.reference_proof == "by simp"
    assert b.original_statement == "theorem b (n : Nat) : n + 0 = n := by"
    assert c.split == "test" and c.reference_proof is None


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"statement": "theorem a : True :="}, r"u\.jsonl:2: missing field 'name'"),
        ({"name": "a"}, r"u\.jsonl:2: missing field 'statement'"),
        ({"name": "a", "statement": ""}, r"u\.jsonl:2: field 'statement' must be a non-empty string"),
        ({"name": "a", "statement": "theorem a : True :=", "header": 3}, r"field 'header' must be a string"),
        ({"name": "a", "statement": "theorem b : True :="}, r"declares 'b' but the row's name is 'a'"),
        ({"name": "a", "statement": "theorem a : True :=", "proof": "  "}, r"'reference_proof' is empty"),
        (
            {
                "name": "a",
                "statement": "theorem a : True :=",
                "proof": "by trivial",
                "reference_proof": "by simp",
            },
            r"both 'reference_proof' and 'proof'",
        ),
        (
            {"name": "a", "split": "valid", "formal_statement": "theorem a : True := by trivial"},
            r"must end with",
        ),
        ("[1, 2]", r"u\.jsonl:2: expected a JSON object, got list"),
        ('{"name": "a", ', r"u\.jsonl:2: not valid JSON"),
    ],
)
def test_malformed_rows_name_file_line_and_field(tmp_path, row, match):
    path = write_jsonl(tmp_path / "u.jsonl", [{"name": "ok", "statement": "theorem ok : True :="}, row])
    with pytest.raises(SuiteFormatError, match=match):
        load_suite(path)


def test_duplicate_names_and_empty_files_are_rejected(tmp_path):
    row = {"name": "a", "statement": "theorem a : True :="}
    with pytest.raises(SuiteFormatError, match=r"d\.jsonl:3: duplicate problem name 'a' \(first on line 1\)"):
        load_suite(write_jsonl(tmp_path / "d.jsonl", [row, "", row]))
    with pytest.raises(SuiteFormatError, match="has no rows"):
        load_suite(write_jsonl(tmp_path / "e.jsonl", [""]))


def test_split_filter_and_limit(tmp_path):
    rows = [minif2f_row(f"p{i}", split="valid" if i % 2 else "test") for i in range(7)]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    assert [p.name for p in load_suite(path, split="test")] == ["p0", "p2", "p4", "p6"]
    assert [p.name for p in load_suite(path, split="valid", limit=2)] == ["p1", "p3"]
    assert len(load_suite(path, split=["valid", "test"])) == 7
    assert [p.name for p in load_suite(path, limit=3)] == ["p0", "p1", "p2"]
    with pytest.raises(ValueError, match=r"no problem in split \['train'\]; its splits are: test, valid"):
        load_suite(path, split="train")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            load_suite(path, limit=bad)


def test_unknown_suite_name_says_what_is_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither a bundled suite \(core, minif2f\)"):
        load_suite(tmp_path / "missing.jsonl")


def test_bundled_minif2f_loads_completely_and_needs_mathlib():
    problems = load_suite("minif2f")
    assert len(problems) == 488
    assert sum(p.split == "valid" for p in problems) == 244 == sum(p.split == "test" for p in problems)
    for p in problems:
        assert p.statement.endswith(":=") and not p.statement.endswith("by :=")
        assert p.original_statement.rstrip().endswith(":= by")
        assert p.statement.startswith(f"theorem {p.name}")
    assert all(needs_mathlib(p) for p in problems)
    with pytest.raises(
        BackendUnsupportedError, match=r"this suite needs Mathlib \(488 of 488.*use --backend native"
    ):
        check_backend_supports(problems, False, "embedded")
    check_backend_supports(problems, True, "native")  # no error


def test_mathlib_detection():
    core = Problem("a", "theorem a (n : Nat) : n + 0 = n :=")
    assert mathlib_requirement(core) is None
    assert (
        mathlib_requirement(Problem("a", core.statement, header="import Std.Data.HashMap\nopen Nat\n"))
        is None
    )
    assert mathlib_requirement(Problem("a", core.statement, header="import Mathlib.Tactic\n")) == (
        "header imports Mathlib.Tactic"
    )
    assert "Aesop" in mathlib_requirement(
        Problem("a", core.statement, header="import Init Aesop -- search\n")
    )
    # No import, but Mathlib-only notation in the statement.
    assert "ℝ" in mathlib_requirement(Problem("a", "theorem a (x : ℝ) : x = x :="))
    assert "∑" in mathlib_requirement(Problem("a", "theorem a : ∑ i in range 3, i = 3 :="))
    check_backend_supports([core], False, "embedded")  # core Lean needs no Mathlib


def _suite_with_splits() -> list[Problem]:
    return [
        Problem(f"v{i}", f"theorem v{i} : True :=", split="valid", reference_proof="by trivial")
        for i in range(5)
    ] + [
        Problem("t0", "theorem t0 : True :=", split="test", reference_proof="by trivial"),
        Problem("t1", "theorem t1 : True :=", split="test"),  # no reference proof: never an example
    ]


def test_few_shot_never_uses_the_evaluated_split():
    suite = _suite_with_splits()
    shots = few_shot_examples(suite, exclude_split="test", k=3, seed=1)
    assert len(shots) == 3 and len({p.name for p in shots}) == 3
    assert all(p.split == "valid" and p.reference_proof for p in shots)
    assert shots == few_shot_examples(list(reversed(suite)), exclude_split="test", k=3, seed=1)  # seeded
    seeds = {tuple(p.name for p in few_shot_examples(suite, "test", 3, seed=s)) for s in range(10)}
    assert len(seeds) > 1  # the seed matters
    assert [p.name for p in few_shot_examples(suite, exclude_split="valid", k=1)] == ["t0"]
    with pytest.raises(ValueError, match="only 1 problems with a reference proof"):
        few_shot_examples(suite, exclude_split="valid", k=2)
    assert few_shot_examples(suite, exclude_split="valid", k=0) == []
