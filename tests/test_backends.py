"""The backend registry: the only place that knows backend names, and the deprecated executor=."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from leanfd.lean import backends

PACKAGE = Path(__file__).resolve().parent.parent / "leanfd"


def _mentions_backend(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Name) and "backend" in n.id.lower())
        or (isinstance(n, ast.Attribute) and "backend" in n.attr.lower())
        or (
            isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", "")) == "resolve_backend"
        )
        for n in ast.walk(node)
    )


def _names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(_names(e) for e in node.elts)) if node.elts else set()
    return set()


def backend_name_comparisons(source: str) -> list[int]:
    """Lines where a backend (a name or attribute mentioning 'backend', or ``resolve_backend(...)``)
    is compared with (or tested for membership in) a literal backend name. Parsed, not grepped, so
    docstrings and comments that name backends do not count."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        literals = set().union(*(_names(o) for o in operands))
        if literals & set(backends.BACKENDS) and any(_mentions_backend(o) for o in operands):
            hits.append(node.lineno)
    return hits


def test_the_check_catches_what_it_should():
    assert backend_name_comparisons('if backend == "http":\n    pass\n') == [1]
    assert backend_name_comparisons('x = self.verifier.backend != "embedded"\n') == [1]
    assert backend_name_comparisons('ok = resolve_backend(b) in ("native", "ray")\n') == [1]
    assert backend_name_comparisons('"""if backend == "http" """\n# backend == "native"\n') == []
    assert backend_name_comparisons('if protocol == "native":\n    pass\n') == []


def test_no_module_outside_the_registry_matches_backend_names():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "backends.py" and path.parent.name == "lean":
            continue
        for line in backend_name_comparisons(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert offenders == [], "ask leanfd.lean.backends instead of comparing backend names: " + ", ".join(
        offenders
    )


def test_registry_entries():
    assert backends.resolve("embedded") == "embedded"
    with pytest.raises(ValueError, match="unknown backend 'lean4'"):
        backends.resolve("lean4")
    for b in backends.BACKENDS.values():
        # a local backend starts sessions and checks files; a remote one starts a client
        assert (b.start_session is not None) == b.local == (b.check_command is not None)
        assert (b.start_client is not None) != b.local
    assert backends.get("embedded").supports_mathlib() is False
    assert backends.get("native").supports_mathlib() is True
    assert set(backends.local_names()) == {"embedded", "native"}


def test_check_refuses_a_remote_backend(tmp_path):
    from leanfd.lean.check import check_file

    f = tmp_path / "a.lean"
    f.write_text("example : True := trivial\n")
    with pytest.raises(ValueError, match="runs Lean locally: use --backend embedded or native"):
        check_file(f, backend="http")


def test_verify_batch_executor_is_a_deprecated_alias(monkeypatch):
    from leanfd.data.problem import Attempt, Problem
    from leanfd.lean import http, verify

    seen = {}

    def fake(attempts, urls, **kw):
        seen["urls"] = urls
        return ["v"] * len(attempts)

    monkeypatch.setattr(http, "verify_batch_http", fake)
    monkeypatch.setenv("LEANFD_VERIFY_URLS", "http://127.0.0.1:1")
    a = [Attempt(Problem("p", "theorem p : True :="), "trivial")]
    with pytest.warns(DeprecationWarning, match=r"executor=.*backend='http'"):
        assert verify.verify_batch(a, executor="http") == ["v"]
    assert seen["urls"] is None  # the http backend reads LEANFD_VERIFY_URLS
    with pytest.warns(DeprecationWarning):
        with pytest.raises(ValueError, match="unknown executor"):
            verify.verify_batch(a, executor="ray-cluster")
