"""The bundled core suite: schema, splits, provenance, and every reference proof checked by the real
embedded Lean through ``leanfd.lean.verify_batch``."""

from __future__ import annotations

import collections
import json
import re

import pytest

from leanfd.data import bundled_suite_path, check_backend_supports, load_suite, needs_mathlib
from leanfd.data.problem import Attempt
from leanfd.lean.guard import screen

FIELDS = {
    "name",
    "split",
    "informal",
    "statement",
    "header",
    "reference_proof",
    "source",
    "difficulty",
    "original_statement",
}
TIERS = {"decide", "omega", "auto", "manual", "hard"}


@pytest.fixture(scope="module")
def rows():
    lines = bundled_suite_path("core").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def suite():
    return load_suite("core")


@pytest.fixture(scope="module")
def minif2f():
    return {p.name: p for p in load_suite("minif2f")}


def test_rows_have_exactly_the_schema(rows):
    for row in rows:
        assert set(row) == FIELDS, row["name"]
        assert all(isinstance(row[k], str) for k in FIELDS), row["name"]
        assert row["header"] == ""
        assert row["source"] in {"minif2f", "leanfd"}
        assert row["difficulty"] in TIERS
        assert row["split"] in {"valid", "test"}
        assert row["statement"].endswith(":=") and row["reference_proof"].strip()
        assert re.match(rf"theorem {re.escape(row['name'])}[\s(:]", row["statement"]), row["name"]
        if row["source"] == "leanfd":
            assert row["name"].startswith("leanfd_")


def test_size_splits_and_difficulty_spread(suite):
    assert len(suite) >= 80
    assert len({p.name for p in suite}) == len(suite)
    by_split = collections.Counter(p.split for p in suite)
    assert abs(by_split["valid"] - by_split["test"]) <= len(suite) // 10
    tiers = collections.Counter(p.difficulty for p in suite)
    # A real spread: one-liner facts are not the bulk, and multi-step proofs are a good share.
    assert tiers["decide"] <= 0.35 * len(suite)
    assert tiers["manual"] + tiers["hard"] >= 0.3 * len(suite)
    for split in ("valid", "test"):
        assert {p.difficulty for p in suite if p.split == split} >= {"decide", "omega", "manual", "hard"}


def test_minif2f_provenance(suite, minif2f):
    for p in suite:
        if p.source != "minif2f":
            continue
        src = minif2f[p.name]  # miniF2F's name is kept
        assert p.split == src.split
        assert p.original_statement == src.original_statement
        assert p.informal == src.informal


def test_core_lean_only_and_reference_proofs_pass_the_guard(suite):
    assert not any(needs_mathlib(p) for p in suite)
    check_backend_supports(suite, False, "embedded")
    for p in suite:
        assert "sorry" not in p.reference_proof
        assert screen(p.reference_proof) is None, p.name


@pytest.mark.lean
@pytest.mark.slow
def test_every_reference_proof_is_proved_and_sorry_is_not(suite, verifier):
    from leanfd.lean import verify_batch

    attempts = [Attempt(p, p.reference_proof) for p in suite] + [Attempt(p, "by sorry") for p in suite]
    verdicts = verify_batch(attempts, backend="embedded", workers=verifier.workers, timeout_s=120.0)
    refs, sorries = verdicts[: len(suite)], verdicts[len(suite) :]
    failed = {
        p.name: (v.status, v.reason, [m.text[:200] for m in v.messages])
        for p, v in zip(suite, refs, strict=True)
        if not v.ok
    }
    assert not failed
    assert all(v.status == "proved" for v in refs)
    # The statement elaborates and is not closed by itself: with `sorry` it is never accepted.
    assert [v.status for v in sorries] == ["sorry"] * len(suite)
