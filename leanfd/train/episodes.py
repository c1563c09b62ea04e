"""Training rollouts that are multi-turn episodes (``leanfd train --max-turns T [--tools ...]``).

Each of a problem's G attempts is an episode in :class:`leanfd.env.LeanEnv`; the step's P*G
episodes are played in lockstep (:func:`leanfd.env.lockstep.run_episodes`: one batched sampler call
per round, the transformers sampler on CPU or vLLM on GPU behind the same ``sample`` entry point).
An episode becomes one :class:`~leanfd.train.rollout.Rollout` whose "completion" is everything after
the prompt: the policy's turns and the environment's replies, id for id as the policy saw them,
with ``mask`` 1 on the policy's tokens and 0 on the environment's. Every loss term counts mask-1
tokens only; the replies are context.

- **GRPO**: the reward is the episode's result (1 if a check in it proved the theorem, else 0)
  minus ``turn_cost`` per policy turn (default 0; a positive cost prefers shorter episodes among
  the proved ones). Advantages are normalised over a problem's G episodes, as for single attempts.
- **FD**: the teacher reads the same episode with the privileged feedback at one place, for every
  T: the first user message, after the question (where single-turn FD puts it). The feedback is
  the critic's condition on the episode's last failed check (:func:`episode_feedback`); an
  episode that never checked a proof gets :data:`NO_ATTEMPT`; proved episodes get a teacher only
  with ``fd_on_success``. Empty feedback adds nothing, so teacher = student gives zero loss. The
  teacher scores the student's ids unchanged: ``prompt_ids(feedback) + ids[prompt_len:]``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from leanfd.data.problem import Problem
from leanfd.lean.types import Verdict
from leanfd.train.rollout import Rollout, RolloutBatch, rollout_stats, sibling_demo, teacher_context

#: The feedback for an episode that ended without checking any proof.
NO_ATTEMPT = "No attempt was made: the episode ended without checking a proof with Lean."

#: The verdict of an episode that never checked a proof (Lean never saw one).
NO_CHECK = Verdict(False, "failed", reason="the episode made no check")


def episode_columns(max_turns: int) -> list[str]:
    """The metrics.csv columns an episode run adds (after the single-turn ones): per-episode means
    of turns, tool calls (a ```` ```lean ```` block counts as a check), checks, policy and
    environment tokens; the rollouts' seconds in prefill, decode and the environment (tools and
    Lean); and ``success@turn{t}``: the fraction of the step's episodes proved at turn <= t."""
    return [
        "turns_mean",
        "tool_calls_mean",
        "checks_mean",
        "policy_tokens_mean",
        "env_tokens_mean",
        "prefill_s",
        "decode_s",
        "env_s",
        *[f"success@turn{t}" for t in range(1, max_turns + 1)],
    ]


def episode_feedback(condition: str, problem: Problem, check) -> str:
    """The teacher's feedback on an episode: the critic's ``condition`` on ``check`` (a
    :class:`leanfd.env.tools.CheckOutcome`, the episode's last failed check or its proving one), or
    :data:`NO_ATTEMPT` when the episode made no check (``check`` None). The step-aligned critique
    reads proofs, not whole files: for a file the ``critique`` conditions use Lean's ``errors``
    (positions are the file's own lines) in its place."""
    from leanfd.critic.conditions import render_feedback

    if check is None:
        return NO_ATTEMPT
    if getattr(check.attempt, "file", None) and condition.startswith("critique"):
        text = render_feedback("errors", problem, check.code, check.verdict)
        if condition == "critique+reference":
            text += "\n\n" + render_feedback("reference", problem, check.code, check.verdict)
        return text
    return render_feedback(condition, problem, check.code, check.verdict)


def _last_check(env):
    """The check an episode's feedback is about: the one that proved it (an episode ends there),
    else its last one, else None. ``env.checks`` keeps whole verdicts (goals included), which the
    episode record drops."""
    return next((c for c in env.checks if c.verdict.ok), env.checks[-1] if env.checks else None)


def collect_episode_rollouts(
    problems: Sequence[Problem],
    *,
    sampler,
    tokenizer,
    verifier,
    group_size: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    max_turns: int,
    tools: Sequence[str] = (),
    max_episode_tokens: int = 4096,
    timeout_s: float | None = None,
    turn_cost: float = 0.0,
    feedback: str | None = None,
    feedback_on_success: bool = False,
    sibling_demos: bool = False,
) -> RolloutBatch:
    """Play ``group_size`` episodes per problem in lockstep and turn each into a rollout (see the
    module docstring). ``feedback`` is the FD condition (None: no teacher, as in GRPO)."""
    from leanfd.env.episode import LeanEnv
    from leanfd.env.lockstep import run_episodes
    from leanfd.eval.episodes import episode_record

    envs = [
        LeanEnv(
            p,
            tokenizer,
            tools=tools,
            max_turns=max_turns,
            max_tokens=max_episode_tokens,
            verifier=verifier,
            timeout_s=timeout_s,
        )
        for p in problems
        for _ in range(group_size)
    ]
    runs, stats = run_episodes(
        envs,
        sampler,
        keys=range(len(envs)),  # problem i's episode j: key i * G + j
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )

    rollouts, outcomes = [], []
    for k, run in enumerate(runs):
        group, j = divmod(k, group_size)
        ep, env = run.episode, run.env
        record = episode_record(problems[group], j, run)
        check, proved_turn = _last_check(env), record["proved_turn"]
        outcomes.append((check, proved_turn))
        pl = ep.prompt_len
        rollouts.append(
            Rollout(
                problem=problems[group],
                group=group,
                prompt_ids=ep.ids[:pl],
                completion_ids=ep.ids[pl:],
                logprobs=[0.0 if lp is None else float(lp) for lp in ep.logprobs[pl:]],
                entropies=list(run.entropies),
                text="".join(ep.texts[1:]),
                proof=None if check is None else check.code,
                verdict=NO_CHECK if check is None else check.verdict,
                reward=float(ep.proved) - turn_cost * len(ep.turns),
                mask=ep.mask[pl:],
                episode=record,
            )
        )

    t0 = time.perf_counter()
    if feedback is not None:
        proved_in_group: dict[int, str] = {}
        for r, (check, turn) in zip(rollouts, outcomes, strict=True):
            if turn is not None and r.group not in proved_in_group:
                proved_in_group[r.group] = check.code
        for r, run, (check, turn) in zip(rollouts, runs, outcomes, strict=True):
            proved = turn is not None
            if proved and not feedback_on_success:
                continue
            block = episode_feedback(feedback, r.problem, check)
            if sibling_demos and not proved and r.group in proved_in_group:
                block = f"{block.strip()}\n\n{sibling_demo(proved_in_group[r.group])}"
            r.feedback = block
            r.teacher_prompt_ids = run.env.prompt_ids(teacher_context(block))
    feedback_s = time.perf_counter() - t0

    batch = RolloutBatch(rollouts, group_size, stats.sample_s, stats.env_s, feedback_s)
    batch.stats = rollout_stats(rollouts)
    batch.stats.update(episode_stats([r.episode for r in rollouts], max_turns, stats))
    return batch


def episode_stats(records: Sequence[dict], max_turns: int, timing) -> dict[str, float]:
    """A step's :func:`episode_columns` from its episode records
    (:func:`leanfd.eval.episodes.episode_record`) and the lockstep run's ``timing``
    (:class:`leanfd.env.lockstep.LockstepStats`)."""
    n = max(1, len(records))
    out = {
        "turns_mean": sum(r["turns"] for r in records) / n,
        "tool_calls_mean": sum(r["tool_calls"] for r in records) / n,
        "checks_mean": sum(r["checks"] for r in records) / n,
        "policy_tokens_mean": sum(r["policy_tokens"] for r in records) / n,
        "env_tokens_mean": sum(r["env_tokens"] for r in records) / n,
        "prefill_s": timing.prefill_s,
        "decode_s": timing.decode_s,
        "env_s": timing.env_s,
    }
    for t in range(1, max_turns + 1):
        out[f"success@turn{t}"] = (
            sum(r["proved_turn"] is not None and r["proved_turn"] <= t for r in records) / n
        )
    return out
