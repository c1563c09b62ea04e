"""The critic: split a proof into steps, align Lean's messages with them, critique the first
failure (rules, or a frozen LM as a "faithful scribe"), and render the feedback conditions."""

from leanfd.critic.conditions import CONDITIONS, render_feedback
from leanfd.critic.lm import LMCritic
from leanfd.critic.rule import step_aligned_critique
from leanfd.critic.steps import split_steps
from leanfd.critic.types import Critique, Diagnosis, StepNote

__all__ = [
    "CONDITIONS",
    "Critique",
    "Diagnosis",
    "LMCritic",
    "StepNote",
    "render_feedback",
    "split_steps",
    "step_aligned_critique",
]
