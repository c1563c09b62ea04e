"""Episodes driven in lockstep: each round samples the next turn of every live episode in one
batched sampler call, then plays each turn in its :class:`~leanfd.env.episode.LeanEnv`.

Eval and train share it (``leanfd eval --max-turns``; a trainer's rollouts). The sampler is any
object with the ``sample(prompt_ids=..., keys=..., n=1, ...)`` entry point of
:mod:`leanfd.models.sampling` (duck-typed: ``env/`` imports no model code).

Randomness: turn ``t`` (from 0) of the episode with key ``k`` draws sample 0 of the prompt with key
``k`` in a call seeded :func:`turn_seed` ``(seed, t)``. Samplers give each (seed, key, index) its
own random stream, so an episode's turns depend only on its key and its own history, never on the
other episodes of the round: a resumed run replays a missing episode exactly, and the first turn is
what a one-turn episode with the same key and seed would draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from leanfd.env.episode import Episode, LeanEnv

#: Ends a turn right after its first tool call (one call per turn, as verl's default), so the model
#: reads the result before writing on. The env then closes the turn with the end-of-turn token.
STOP = ("</tool_call>",)


def turn_seed(seed: int, turn: int) -> int:
    """The sampler seed of round ``turn``: ``seed`` itself for the first turn, a hash of the pair after."""
    if turn == 0:
        return seed
    mask = (1 << 64) - 1
    return int(np.random.SeedSequence([seed & mask, turn]).generate_state(1, np.uint64)[0])


@dataclass
class EpisodeRun:
    """One episode as the driver played it: the env (its :class:`Episode` record holds ids, mask,
    log-probs, turns, calls and verdicts), the episode's ``key``, the entropy of each policy token
    in order, and its share of the time: ``sample_s`` (each round's sampling seconds split evenly
    over its rows) and ``env_s`` (its own tool and Lean seconds)."""

    env: LeanEnv
    key: int
    entropies: list[float] = field(default_factory=list)
    sample_s: float = 0.0
    env_s: float = 0.0

    @property
    def episode(self) -> Episode:
        return self.env.episode


@dataclass
class LockstepStats:
    """Where a lockstep run's time went: sampling (with the sampler's prefill tokens and new tokens;
    ``prefill_s`` + ``decode_s`` = ``sample_s`` where the sampler times its prefill, else all of it
    counts as decode) and the environment (tools and Lean), over ``rounds`` batched calls."""

    rounds: int = 0
    sample_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    env_s: float = 0.0
    prefill_tokens: int = 0
    new_tokens: int = 0


def run_episodes(
    envs: Sequence[LeanEnv],
    sampler,
    *,
    keys: Sequence[int],
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    stop: Sequence[str] = STOP,
    on_done: Callable[[EpisodeRun], None] | None = None,
) -> tuple[list[EpisodeRun], LockstepStats]:
    """Reset every env and play all episodes to their end, one round per turn: the live episodes'
    token ids go to ``sampler.sample`` in one call (``n=1``, one key per episode), and each sampled
    turn is stepped in its env. A turn is capped at ``max_new_tokens`` and at what its episode may
    still take (a longer draw is cut: the same tokens a lower cap would give). ``on_done`` is
    called with each episode as soon as it ends (an eval writes it to disk there)."""
    if len(keys) != len(envs):
        raise ValueError(f"run_episodes: {len(keys)} keys for {len(envs)} envs; give one key per env")
    if len(set(keys)) != len(keys):
        raise ValueError("run_episodes: keys must be distinct (each names an episode's random streams)")
    runs = [EpisodeRun(env, int(k)) for env, k in zip(envs, keys, strict=True)]
    stats = LockstepStats()
    remaining = {id(r): r.env.reset().remaining_tokens for r in runs}
    live = list(runs)
    turn = 0
    while live:
        t0 = time.perf_counter()
        samples = sampler.sample(
            prompt_ids=[r.episode.ids for r in live],
            keys=[r.key for r in live],
            n=1,
            temperature=temperature,
            top_p=top_p,
            # No episode can take more than its remaining budget: no need to draw further.
            max_new_tokens=max(1, min(max_new_tokens, max(remaining[id(r)] for r in live))),
            seed=turn_seed(seed, turn),
            stop=tuple(stop),
        )
        dt = time.perf_counter() - t0
        stats.rounds += 1
        stats.sample_s += dt
        sampler_stats = getattr(sampler, "stats", None)
        stats.prefill_tokens += int(getattr(sampler_stats, "prefill_tokens", 0))
        prefill_s = min(dt, float(getattr(sampler_stats, "prefill_s", 0.0)))
        stats.prefill_s += prefill_s
        stats.decode_s += dt - prefill_s
        still = []
        for r, (s,) in zip(live, samples, strict=True):
            r.sample_s += dt / len(live)
            cap = max(1, remaining[id(r)])
            ids, lps, ents = s.token_ids[:cap], s.logprobs[:cap], s.entropies[:cap]
            stats.new_tokens += len(ids)
            r.entropies += [float(e) for e in ents]
            t1 = time.perf_counter()
            obs, _, done, _ = r.env.step(ids, lps)
            r.env_s += time.perf_counter() - t1
            remaining[id(r)] = obs.remaining_tokens
            if done:
                if on_done is not None:
                    on_done(r)
            else:
                still.append(r)
        live = still
        turn += 1
    stats.env_s = sum(r.env_s for r in runs)
    return runs, stats
