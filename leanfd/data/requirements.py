"""Which Lean a problem needs: core Lean (embedded backend) or Mathlib (native backend).

The embedded toolchain ships only Lean's own libraries (``Init``, ``Std``, ``Lean``, ``Lake``), so a
suite whose headers import anything else, or whose statements use Mathlib notation, must fail before
any Lean process starts, with a message that says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from leanfd.data.problem import Problem

#: Top-level modules the embedded toolchain ships.
CORE_MODULE_ROOTS = frozenset({"Init", "Std", "Lean", "Lake"})

_IMPORT = re.compile(r"^\s*import\s+(.+)$", re.MULTILINE)
# Notation that core Lean does not define (Mathlib does): number sets and big operators. A statement
# with an empty header that uses them cannot elaborate on the embedded backend either.
_MATHLIB_NOTATION = ("ℕ", "ℤ", "ℚ", "ℝ", "ℂ", "∑", "∏", "Finset", "Real.", "Complex.")


class BackendUnsupportedError(ValueError):
    """A suite needs a Lean backend other than the one requested; the message says which and how."""


def mathlib_requirement(problem: Problem) -> str | None:
    """Why ``problem`` needs more than core Lean (e.g. ``"header imports Mathlib"``), or ``None``."""
    for line in _IMPORT.findall(problem.header):
        for module in line.split():
            if module.startswith("--"):
                break
            if module.split(".")[0] not in CORE_MODULE_ROOTS:
                return f"header imports {module}"
    for token in _MATHLIB_NOTATION:
        if token in problem.statement:
            return f"statement uses {token!r}, which core Lean does not define"
    return None


def needs_mathlib(problem: Problem) -> bool:
    """True if ``problem`` cannot be checked by core Lean alone (see :func:`mathlib_requirement`)."""
    return mathlib_requirement(problem) is not None


def check_backend_supports(problems: Sequence[Problem], supports_mathlib: bool, backend: str = "") -> None:
    """Raise :class:`BackendUnsupportedError` if a backend that cannot check Mathlib (``supports_mathlib``
    false) is asked to check problems that need it. Ask the verifier, not its name:
    ``check_backend_supports(problems, verifier.supports_mathlib, verifier.backend)`` (an ``http``
    verifier asks its replicas). ``backend`` only names the backend in the message.
    """
    if supports_mathlib:
        return
    needing = [(p.name, why) for p in problems if (why := mathlib_requirement(p)) is not None]
    if needing:
        name, why = needing[0]
        raise BackendUnsupportedError(
            f"this suite needs Mathlib ({len(needing)} of {len(problems)} problems, e.g. {name}: {why}), "
            f"but the {backend or 'chosen'} backend has core Lean only; use --backend native (or "
            "verify replicas started with --backend native), see README 'Scale up'"
        )
