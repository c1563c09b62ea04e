"""leanfd: evaluate and train Lean 4 theorem provers against a trustworthy verifier."""

__version__ = "0.1.0"
