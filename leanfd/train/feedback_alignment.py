"""Where does feedback move the self-teacher? The per-token gap log p_T(y_t) − log p_S(y_t) along a
failed attempt, under each feedback condition, split into the correct prefix, the failing step and
what follows it (the measurement behind the Feedback Alignment paper, arXiv 2606.11173: step-aligned
critique should move the tokens where the proof breaks, a reference solution every token).

The student's and the teacher's prompts are the FD trainer's own (``rollout.student_prompt``,
``rollout.teacher_prompt_text``) and the teacher scores the student's token ids verbatim. Token to
step: a token belongs to the step that holds its first character, read past the leading whitespace
a BPE token carries (`` omega`` belongs to ``omega``); a token of whitespace only goes by its first
character. Only tokens inside the proof text count: the prefilled statement is in the prompt, and
tokens after the proof (the closing fence) are left out. Step spans come from the critic's
splitter, the failing step from the rule critic on Lean's messages.

``leanfd analyze-feedback INPUT... -o DIR`` is :func:`analyze_feedback`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leanfd.critic.conditions import CONDITIONS, render_feedback
from leanfd.critic.rule import step_aligned_critique
from leanfd.critic.steps import split_steps
from leanfd.critic.types import Critique
from leanfd.data.problem import Attempt, Problem
from leanfd.io import atomic_write
from leanfd.lean.types import Verdict

SEGMENTS = ("prefix", "failing", "after")
CONTROLLED = "controlled"


# ------------------------------------------------------------------------------ token alignment


def token_spans(tokenizer, ids: Sequence[int]) -> tuple[str, list[tuple[int, int]]]:
    """The decoded text of ``ids`` and each token's ``[start, end)`` character range in it.

    A token that holds only part of a multi-byte character (byte-level BPE splits ``⟨`` in three)
    touches that character: ranges of neighbours may overlap by one character.
    """

    def dec(x: Sequence[int]) -> str:
        return tokenizer.decode(list(x), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    text = dec(ids)
    starts, ends = [], []
    for i in range(len(ids) + 1):
        pre = dec(ids[:i])
        common = len(os.path.commonprefix([pre, text]))
        starts.append(common)  # complete characters before token i
        ends.append(common + (1 if len(pre) > common else 0))  # + a partly decoded one
    return text, [(starts[i], max(ends[i + 1], starts[i] + 1)) for i in range(len(ids))]


def anchors(text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
    """Each token's first character past its leading whitespace (its first character when it is
    all whitespace)."""
    out = []
    for a, b in spans:
        k = a
        while k < min(b, len(text)) and text[k].isspace():
            k += 1
        out.append(k if k < min(b, len(text)) else a)
    return out


@dataclass
class TokenAlignment:
    """Per token: its anchor character in the completion, its innermost step (index into
    ``split_steps(proof).steps``, ``None`` outside every step) and its segment (``prefix``,
    ``failing``, ``after``, or ``None`` outside the proof)."""

    proof_start: int  # where the proof starts in the completion text (-1: not found)
    anchors: list[int]
    steps: list[int | None]
    segments: list[str | None]


def align_tokens(
    text: str, spans: Sequence[tuple[int, int]], proof: str, failing: int | None
) -> TokenAlignment:
    """Place each token (``spans`` into the completion ``text``) on the steps of ``proof`` and on
    the three segments around step ``failing`` (an index into ``split_steps(proof).steps``).

    >>> text = " by\\n  simp\\n  omega\\n```"
    >>> spans = [(0, 3), (3, 5), (5, 10), (10, 12), (12, 18), (18, 19), (19, 22)]
    >>> align_tokens(text, spans, "by\\n  simp\\n  omega", failing=1).segments
    ['prefix', 'prefix', 'prefix', 'prefix', 'failing', None, None]
    """
    ps = split_steps(proof)
    start = text.find(proof) if proof else -1
    anc = anchors(text, spans)
    fstep = ps.steps[failing] if failing is not None else None
    steps: list[int | None] = []
    segs: list[str | None] = []
    for a in anc:
        p = a - start
        if start < 0 or not 0 <= p < len(proof):
            steps.append(None)
            segs.append(None)
            continue
        inner = [s for s in ps.steps if s.start <= p < s.end]
        steps.append(max(inner, key=lambda s: s.depth).index if inner else None)
        if fstep is None:
            segs.append(None)
        else:
            segs.append("prefix" if p < fstep.start else "failing" if p < fstep.end else "after")
    return TokenAlignment(start, anc, steps, segs)


# ------------------------------------------------------------------------------ gaps


def split_gaps(values: Sequence[float], segments: Sequence[str | None]) -> dict[str, list[float]]:
    """``values`` (one per token) grouped by segment; tokens outside the proof are dropped."""
    out: dict[str, list[float]] = {s: [] for s in SEGMENTS}
    for v, s in zip(values, segments, strict=True):
        if s is not None:
            out[s].append(float(v))
    return out


def token_gaps(
    model,
    student_ids: Sequence[int],
    teacher_ids: Sequence[Sequence[int]],
    completion_ids: Sequence[int],
    pad_id: int,
    temperature: float = 1.0,
):
    """The teachers' per-token gaps and KLs along ``completion_ids``.

    Returns ``gap`` and ``kl``, both (len(teacher_ids), T): gap = log p_T(y_t) − log p_S(y_t) and
    kl = KL(p_S‖p_T) over the full vocabulary (the trainer's default divergence), both at
    ``temperature``. One forward per prompt: the prompts' lengths differ by whole feedback blocks,
    so a batch would spend most of its time on padding.
    """
    import torch

    from leanfd.train.losses import reverse_kl
    from leanfd.train.rollout import completion_logits, pack

    device = next(model.parameters()).device
    tok = torch.tensor(list(completion_ids), device=device)

    def logp_of(prompt: Sequence[int]):
        packed = pack([list(prompt)], [list(completion_ids)], pad_id).to(device)
        logits = completion_logits(model, packed)[0, : len(completion_ids)]
        return torch.log_softmax(logits / temperature, -1)  # (T, V)

    with torch.no_grad():
        student = logp_of(student_ids)
        s_tok = student.gather(-1, tok[:, None])[:, 0]
        gaps, kls = [], []
        for t in teacher_ids:
            teacher = logp_of(t)
            gaps.append(teacher.gather(-1, tok[:, None])[:, 0] - s_tok)
            kls.append(reverse_kl(student, teacher))
    return torch.stack(gaps).cpu(), torch.stack(kls).cpu()


# ------------------------------------------------------------------------------ cases


@dataclass
class Case:
    """One failed attempt to analyse: its proof and the student's token ids after the prompt."""

    set: str  # which input it came from (``controlled``, or the run's name)
    id: str
    problem: Problem
    proof: str
    completion_ids: list[int]
    verdict: Verdict
    critique: Critique
    kind: str = "sampled"  # the corruption kind for the controlled set
    examples: list[Problem] = field(default_factory=list)  # few-shot examples in the prompt
    style: str = "chat"  # prompt style (leanfd.models.prompts)


@dataclass
class Analysed:
    """A case's tokens and, per condition, its per-token gaps and KLs."""

    case: Case
    tokens: list[str]
    alignment: TokenAlignment
    gaps: dict[str, list[float]]
    kls: dict[str, list[float]]


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def attempt_rows(a: Analysed) -> list[dict]:
    """One row per condition: the attempt's mean |gap| (and mean gap, mean KL) per segment, the
    share of its |gap| in the failing step, and that step's share of its tokens."""
    rows = []
    for cond, gaps in a.gaps.items():
        g = split_gaps(gaps, a.alignment.segments)
        k = split_gaps(a.kls[cond], a.alignment.segments)
        total = sum(abs(x) for s in SEGMENTS for x in g[s])
        n = sum(len(g[s]) for s in SEGMENTS)
        row = {
            "set": a.case.set,
            "id": a.case.id,
            "kind": a.case.kind,
            "condition": cond,
            "failing_step": a.case.critique.failing_step.text.splitlines()[0],
        }
        for s in SEGMENTS:
            row[f"tokens_{s}"] = len(g[s])
            row[f"abs_gap_{s}"] = _mean([abs(x) for x in g[s]])
            row[f"gap_{s}"] = _mean(g[s])
            row[f"kl_{s}"] = _mean(k[s])
        row["share_failing"] = sum(abs(x) for x in g["failing"]) / total if total > 0 else float("nan")
        row["token_share_failing"] = len(g["failing"]) / n if n else float("nan")
        row["kl_per_token"] = _mean([x for s in SEGMENTS for x in k[s]])
        rows.append(row)
    return rows


def summarize(rows: Sequence[dict]):
    """Per (set, condition): the attempts' means of :func:`attempt_rows` (each attempt weighs the
    same; a segment's mean skips attempts where it is empty), and the attempt and token counts."""
    import pandas as pd

    df = pd.DataFrame(rows)
    means = [
        *(f"abs_gap_{s}" for s in SEGMENTS),
        "share_failing",
        "token_share_failing",
        *(f"gap_{s}" for s in SEGMENTS),
        "kl_per_token",
        *(f"kl_{s}" for s in SEGMENTS),
    ]
    g = df.groupby(["set", "condition"], sort=False)
    out = g[means].mean()
    out.insert(0, "attempts", g.size())
    for s in SEGMENTS:
        out[f"tokens_{s}"] = g[f"tokens_{s}"].sum()
    return out.reset_index()


# ------------------------------------------------------------------------------ inputs


def _suite_problems(suite: str) -> dict[str, Problem]:
    from leanfd.data import load_suite

    return {p.name: p for p in load_suite(suite)}


def load_records(path: Path) -> tuple[str, list[dict], dict]:
    """``(name, records, eval config)`` of an eval run (``samples.jsonl``) or a training run
    (``rollouts.jsonl``), given as its directory or the JSONL file itself."""
    from leanfd.io import read_jsonl

    path = Path(path)
    if path.is_dir():
        for fname in ("samples.jsonl", "rollouts.jsonl"):
            if (path / fname).exists():
                cfg_path = path / "config.json"
                cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
                return path.name, [r for _, r in read_jsonl(path / fname, strict=False)], cfg
        raise FileNotFoundError(
            f"{path} holds neither samples.jsonl (leanfd eval) nor rollouts.jsonl (leanfd train)"
        )
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: give an eval/train output directory, its JSONL, or 'controlled'"
        )
    cfg_path = path.parent / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    return path.parent.name or path.stem, [r for _, r in read_jsonl(path, strict=False)], cfg


def record_cases(
    name: str,
    records: Sequence[dict],
    cfg: dict,
    tokenizer,
    *,
    suite: str,
    limit: int,
    verify=None,
    style: str = "chat",
    few_shot: int | None = None,
) -> tuple[list[Case], dict[str, int]]:
    """The first ``limit`` failed attempts of eval (``samples.jsonl``) or training
    (``rollouts.jsonl``) records that have a located failing step.

    Eval records carry the sampled token ids and Lean's verdict; rollout rows carry the completion
    text only, so it is re-encoded (as a sampler's ids decode to it) and their proofs re-verified
    with ``verify`` for Lean's messages. Attempts without a proof or without a located failing step
    are counted, not analysed. An eval run's ``config.json`` gives the suite, the prompt style and
    the few-shot examples (``few_shot`` overrides their number).
    """
    from leanfd.data import few_shot_examples, load_suite
    from leanfd.train.rollout import encode

    if cfg.get("prefill") is False:
        raise ValueError(
            f"{name}: sampled without a prefilled statement; the analysis rebuilds prefilled prompts"
        )
    suite = cfg.get("suite", suite)
    style = cfg.get("prompt", style)
    problems = _suite_problems(suite)
    k = cfg.get("few_shot", 0) if few_shot is None else few_shot
    examples: list[Problem] = []
    if k:
        if not cfg.get("split"):
            raise ValueError(
                f"{name}: few-shot examples need the evaluated split (no config.json); pass --few-shot 0"
            )
        examples = few_shot_examples(
            load_suite(suite),
            exclude_split=cfg["split"],
            k=k,
            seed=cfg.get("few_shot_seed", cfg.get("seed", 0)),
        )
    counts = {"records": len(records), "proved": 0, "no_proof": 0, "unlocated": 0, "unknown_problem": 0}
    todo = []
    for i, r in enumerate(records):
        verdict = r.get("verdict")
        if verdict["ok"] if verdict else r.get("status") == "proved":
            counts["proved"] += 1
        elif not r.get("proof"):
            counts["no_proof"] += 1
        elif r["problem"] not in problems:
            counts["unknown_problem"] += 1
        else:
            todo.append((i, r))
    cases: list[Case] = []
    for at in range(0, len(todo), max(1, limit)):  # rollout rows are verified a chunk at a time
        if len(cases) >= limit:
            break
        chunk = todo[at : at + max(1, limit)]
        need = [(i, r) for i, r in chunk if not r.get("verdict")]
        fresh: dict[int, Verdict] = {}
        if need:
            if verify is None:
                raise ValueError(f"{name}: rollout rows carry no Lean messages; a verifier is needed")
            got = verify([Attempt(problems[r["problem"]], r["proof"]) for _, r in need])
            fresh = {i: v for (i, _), v in zip(need, got, strict=True)}
        for i, r in chunk:
            p = problems[r["problem"]]
            v = fresh.get(i) or Verdict.from_dict(r["verdict"])
            if v.ok:
                counts["proved"] += 1
                continue
            crit = step_aligned_critique(p, r["proof"], v)
            if crit.first_failing is None:
                counts["unlocated"] += 1
                continue
            ids = r.get("token_ids") or encode(tokenizer, r["completion"])
            rid = f"{r['problem']}@{r['step']}#{i}" if "step" in r else f"{r['problem']}#{r.get('sample', i)}"
            cases.append(Case(name, rid, p, r["proof"], list(ids), v, crit, "sampled", examples, style))
            if len(cases) >= limit:
                break
    counts["analysed"] = len(cases)
    return cases, counts


def controlled_cases(
    verify, tokenizer, *, suite: str = "core", split: str | None = None, limit: int = 30, seed: int = 0,
    style: str = "chat", progress: bool = True,
) -> tuple[list[Case], list[dict], dict[str, int]]:  # fmt: skip
    """The controlled set (:mod:`leanfd.train.controlled`) as cases, its rows for
    ``controlled.jsonl``, and its counts. The student's answer is the corrupted proof after the
    prefilled statement, closed by the fence, as a sampler would have written it."""
    from leanfd.data import load_suite
    from leanfd.train.controlled import build_controlled_set
    from leanfd.train.rollout import encode

    problems = load_suite(suite, split=split)
    kept, counts = build_controlled_set(problems, verify, limit=limit, seed=seed, progress=progress)
    cases, rows = [], []
    for k in kept:
        c = k.corruption
        cid = f"{c.problem.name}:{c.kind}"
        ids = encode(tokenizer, f" {c.proof}\n```")
        cases.append(Case(CONTROLLED, cid, c.problem, c.proof, ids, k.verdict, k.critique, c.kind, [], style))
        rows.append(
            {
                "id": cid,
                "problem": c.problem.name,
                "kind": c.kind,
                "original": c.original,
                "replacement": c.replacement,
                "failing_step": k.critique.first_failing,
                "failing_text": k.critique.failing_step.text,
                "error": k.verdict.errors[0].text.splitlines()[0] if k.verdict.errors else k.verdict.status,
                "proof": c.proof,
            }
        )
    return cases, rows, counts


# ------------------------------------------------------------------------------ the analysis


def analyse_case(
    case: Case, model, tokenizer, conditions: Sequence[str], *, temperature: float = 1.0
) -> Analysed:
    """Gaps of ``case`` under each condition the problem allows (``reference`` needs a reference
    proof). The teacher's prompt is the trainer's, feedback from the critic's ``render_feedback``
    with the case's critique; empty feedback adds nothing, so that teacher is the student."""
    from leanfd.train.rollout import encode, student_prompt, teacher_prompt_text

    p = case.problem
    conds = [c for c in conditions if "reference" not in c or p.reference_proof]
    student = student_prompt(p, tokenizer, case.style, case.examples).text
    teachers = []
    for cond in conds:
        fb = render_feedback(cond, p, case.proof, case.verdict, case.critique)
        teachers.append(
            teacher_prompt_text(p, tokenizer, fb, case.style, case.examples) if fb.strip() else student
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    gap, kl = token_gaps(
        model,
        encode(tokenizer, student),
        [encode(tokenizer, t) for t in teachers],
        case.completion_ids,
        pad,
        temperature,
    )
    text, spans = token_spans(tokenizer, case.completion_ids)
    al = align_tokens(text, spans, case.proof, case.critique.first_failing)
    tokens = [text[a:b] for a, b in spans]
    return Analysed(
        case,
        tokens,
        al,
        {c: gap[i].tolist() for i, c in enumerate(conds)},
        {c: kl[i].tolist() for i, c in enumerate(conds)},
    )


def _write_csv(path: Path, df) -> None:
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def analyze_feedback(
    inputs: Sequence[str | Path],
    out: Path,
    *,
    model: str = "smollm2-135m",
    policy=None,
    conditions: Sequence[str] = tuple(CONDITIONS),
    limit: int = 20,
    controlled_limit: int = 30,
    suite: str = "core",
    split: str | None = None,
    prompt: str = "chat",
    few_shot: int | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    backend: str = "embedded",
    workers: int = 1,
    timeout_s: float = 30.0,
    heartbeats: int = 200_000,
    figure_attempts: int = 3,
    verifier=None,
    progress: bool = True,
):
    """Run the analysis on each input (``controlled`` or an eval/train output) and write to ``out``:
    ``summary.csv``/``summary.json`` (per input and condition), ``attempts.csv`` (per attempt and
    condition), ``tokens.json`` (the attempts in the figure, token by token), ``controlled.jsonl``
    (the corrupted proofs kept), ``token_gaps.png`` and ``shares.png``. Returns the summary table.

    ``policy`` (a loaded :class:`leanfd.models.policy.Policy`) and ``verifier`` may be passed in;
    otherwise ``model`` is loaded and a Lean verifier started only if an input needs one.
    """
    from tqdm.auto import tqdm

    from leanfd.train.feedback_plots import plot_shares, plot_token_gaps

    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown feedback condition(s) {unknown}; choose from {', '.join(CONDITIONS)}")
    out = Path(out)
    if policy is None:
        from leanfd.models.policy import load_policy

        policy = load_policy(model)
    tok, net = policy.tokenizer, policy.model
    net.eval()
    own_verifier = verifier is None
    cases: list[Case] = []
    counts: dict[str, dict] = {}
    try:

        def verify(attempts):
            nonlocal verifier
            if verifier is None:
                from leanfd.lean import Verifier

                verifier = Verifier(
                    backend=backend, workers=workers, timeout_s=timeout_s, heartbeats=heartbeats
                )
            return verifier.verify(attempts, timeout_s=timeout_s, heartbeats=heartbeats)

        for inp in inputs:
            if str(inp) == CONTROLLED:
                found, rows, n = controlled_cases(
                    verify,
                    tok,
                    suite=suite,
                    split=split,
                    limit=controlled_limit,
                    seed=seed,
                    progress=progress,
                )
                out.mkdir(parents=True, exist_ok=True)
                atomic_write(
                    out / "controlled.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                )
                counts[CONTROLLED] = n
            else:
                name, records, cfg = load_records(Path(inp))
                found, n = record_cases(
                    name,
                    records,
                    cfg,
                    tok,
                    suite=suite,
                    limit=limit,
                    verify=verify,
                    style=prompt,
                    few_shot=few_shot,
                )
                counts[name] = n
            cases += found
    finally:
        if own_verifier and verifier is not None:
            verifier.close()
    if not cases:
        raise ValueError(
            f"no failed attempt with a located failing step in {', '.join(map(str, inputs))}: nothing to analyse"
        )

    analysed = [
        analyse_case(c, net, tok, conditions, temperature=temperature)
        for c in tqdm(cases, desc="teacher gaps", unit="attempt", disable=not progress)
    ]
    import pandas as pd

    per_attempt = pd.DataFrame([row for a in analysed for row in attempt_rows(a)])
    summary = summarize(per_attempt.to_dict("records"))
    _write_csv(out / "attempts.csv", per_attempt)
    _write_csv(out / "summary.csv", summary)
    meta = {
        "model": getattr(policy, "name", model),
        "inputs": [str(i) for i in inputs],
        "conditions": list(conditions),
        "temperature": temperature,
        "prompt": prompt,
        "seed": seed,
        "counts": counts,
        "summary": json.loads(summary.to_json(orient="records")),
    }
    atomic_write(out / "summary.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    shown = figure_cases(analysed, figure_attempts)
    atomic_write(out / "tokens.json", json.dumps([token_record(a) for a in shown], ensure_ascii=False) + "\n")
    plot_token_gaps(shown, out / "token_gaps.png")
    plot_shares(summary, out / "shares.png")
    return summary


def figure_cases(analysed: Sequence[Analysed], k: int) -> list[Analysed]:
    """Up to ``k`` attempts for the token figure: the shortest with tokens in all three segments,
    one per set and kind first (then any)."""
    full = sorted(
        (a for a in analysed if all(s in a.alignment.segments for s in SEGMENTS)),
        key=lambda a: (len(a.tokens), a.case.id),
    )
    rest = sorted(
        (a for a in analysed if all(a is not b for b in full)), key=lambda a: (len(a.tokens), a.case.id)
    )
    picked: list[Analysed] = []
    seen = set()
    for a in full:
        if (a.case.set, a.case.kind) not in seen and len(picked) < k:
            picked.append(a)
            seen.add((a.case.set, a.case.kind))
    for a in full + rest:
        if len(picked) < k and all(a is not b for b in picked):
            picked.append(a)
    return picked


def token_record(a: Analysed) -> dict:
    return {
        "set": a.case.set,
        "id": a.case.id,
        "kind": a.case.kind,
        "proof": a.case.proof,
        "failing_step": a.case.critique.first_failing,
        "tokens": a.tokens,
        "segments": a.alignment.segments,
        "steps": a.alignment.steps,
        "gaps": {c: [round(x, 4) for x in g] for c, g in a.gaps.items()},
        "kl": {c: [round(x, 4) for x in k] for c, k in a.kls.items()},
    }
