"""Proof extraction from a model completion lives in :mod:`leanfd.syntax`, beside the Lean lexer
it uses; this name stays so that existing imports keep working."""

from leanfd.syntax import extract_proof

__all__ = ["extract_proof"]
