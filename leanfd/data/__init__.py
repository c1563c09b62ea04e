"""Problems and suites: the ``Problem``/``Attempt`` values, JSONL suite loaders (bundled ``core`` and
``minif2f``, miniF2F-format and user files), backend requirements and few-shot selection."""

from leanfd.data.few_shot import few_shot_examples
from leanfd.data.loaders import BUNDLED_SUITES, SuiteFormatError, bundled_suite_path, load_suite
from leanfd.data.problem import Attempt, Problem
from leanfd.data.requirements import (
    BackendUnsupportedError,
    check_backend_supports,
    mathlib_requirement,
    needs_mathlib,
)

__all__ = [
    "BUNDLED_SUITES",
    "Attempt",
    "BackendUnsupportedError",
    "Problem",
    "SuiteFormatError",
    "bundled_suite_path",
    "check_backend_supports",
    "few_shot_examples",
    "load_suite",
    "mathlib_requirement",
    "needs_mathlib",
]
