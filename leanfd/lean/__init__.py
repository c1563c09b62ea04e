"""Lean toolchains, sessions, the guard, and the batch verifier."""

from leanfd.lean.types import LeanMessage, Verdict
from leanfd.lean.verify import Verifier, VerifyInputError, verify_batch

__all__ = ["LeanMessage", "Verdict", "Verifier", "VerifyInputError", "verify_batch"]
