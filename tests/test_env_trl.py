"""TRL's own GRPOTrainer runs one step through the environment_factory adapter, with the tiny random
model, TRL's Qwen2.5 template (so TRL parses tool calls) and the real embedded Lean. The first turn is
scripted to call `check` (a random model would not); the rest is TRL's loop unchanged."""

from __future__ import annotations

import copy
import functools

import pytest

from leanfd.env.trl_env import LeanToolEnv

pytestmark = [pytest.mark.lean, pytest.mark.slow]

ST = "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :="


def test_reset_and_tools_without_a_trainer(verifier):
    env = LeanToolEnv(verifier=verifier)
    assert ST in env.reset(statement=ST, name="lt", prompt="ignored")
    assert env.check("by simp").startswith("failed") and env.get_reward() == 0.0
    assert env.check("by omega").startswith("proved") and env.get_reward() == 1.0
    assert [c["status"] for c in env.calls] == ["failed", "proved"]
    env.reset(statement=ST)
    assert env.get_reward() == 0.0 and env.calls == []
    with pytest.raises(ValueError, match="'statement' column"):
        env.reset(prompt="no statement here")


@pytest.fixture
def fresh_accelerator_state():
    """TRL's trainer makes accelerate's process-wide state (bf16 by GRPOConfig's default); later tests
    in this process would inherit its mixed precision through ``Accelerator()``, so reset it after."""
    from accelerate.state import AcceleratorState

    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_grpo_trainer_step_through_the_adapter(verifier, tmp_path, fresh_accelerator_state):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen2_5_chat_template

    from leanfd.models.policy import smollm2_tokenizer
    from leanfd.models.testing import tiny_random_policy

    tok = copy.deepcopy(smollm2_tokenizer())
    tok.chat_template = qwen2_5_chat_template
    policy = tiny_random_policy(seed=0, tokenizer=tok)
    envs: list[LeanToolEnv] = []

    def factory() -> LeanToolEnv:
        envs.append(LeanToolEnv(verifier=verifier))
        return envs[-1]

    call = '<tool_call>\n{"name": "check", "arguments": {"code": "by omega"}}\n</tool_call><|im_end|>'
    scripted = tok.encode(call, add_special_tokens=False)

    class ScriptedFirstTurn(GRPOTrainer):
        first = True

        def _generate_single_turn(self, prompt_ids, *args, **kwargs):
            if ScriptedFirstTurn.first:
                ScriptedFirstTurn.first = False
                return [list(scripted) for _ in prompt_ids], None
            return super()._generate_single_turn(prompt_ids, *args, **kwargs)

    rows = Dataset.from_list([{"prompt": [{"role": "user", "content": "Prove it."}], "statement": ST}] * 2)
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=160,
        max_tool_calling_iterations=1,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        bf16=False,  # CPU: full precision, as our own trainer runs here
        save_strategy="no",
        logging_steps=1,
    )
    trainer = ScriptedFirstTurn(
        model=policy.model,
        args=args,
        train_dataset=rows,
        processing_class=tok,
        environment_factory=factory,
    )
    seen = {}
    trainer._generate_and_score_completions = functools.partial(
        _spy, trainer._generate_and_score_completions, seen
    )
    trainer.train()

    used = [e for e in envs if e.calls]
    assert len(used) == 2 and all(e.calls[0]["status"] == "proved" and e.get_reward() == 1.0 for e in used)
    rewards = [h for h in trainer.state.log_history if "reward" in h]
    assert rewards and rewards[0]["reward"] == 1.0
    mask, ids = seen["tool_mask"], seen["completion_ids"]
    for row in range(2):
        n = len(scripted)
        assert ids[row, :n].tolist() == scripted and mask[row, :n].tolist() == [1] * n
        zeros = (mask[row] == 0).nonzero().flatten().tolist()
        assert zeros and zeros[0] == n and zeros == list(range(n, zeros[-1] + 1))  # the tool reply, masked
        reply = tok.decode(ids[row, zeros[0] : zeros[-1] + 1])
        assert reply.startswith("\n<|im_start|>user\n<tool_response>\nproved: Lean accepts this proof")
        assert reply.endswith("<|im_start|>assistant\n")


def _spy(fn, seen, inputs):
    out = fn(inputs)
    seen.update(out)
    return out
