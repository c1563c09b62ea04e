"""The agentic Lean environment: tools over the verifier and the critic (``check``, ``goals``,
``search``, ``read``), multi-turn episodes recorded token in / token out (``LeanEnv``), and thin
shells for agents and trainers: an MCP server (``leanfd mcp``) and a TRL ``environment_factory``.
Imports ``lean/`` and ``critic/``, never ``models/``, ``eval/`` or ``train/``."""

from leanfd.env.episode import Episode, LeanEnv, Observation, Turn
from leanfd.env.tools import ToolError, check, goals, read, search, verify

__all__ = [
    "Episode",
    "LeanEnv",
    "Observation",
    "ToolError",
    "Turn",
    "check",
    "goals",
    "read",
    "search",
    "verify",
]
