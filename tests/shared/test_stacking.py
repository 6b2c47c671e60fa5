"""Two-step PEFT on every backbone family: a frozen domain adapter under a task adapter.

On tiny randomly initialised models (a BERT classifier, a timm CNN, a Whisper audio classifier
and a Gemma-3 decoder LM), for LoRA + LoRA, Houlsby + Houlsby and mixed pairs: each member
changes the output (the task adapter once it has trained a step); after a step only the task
adapter and head changed and the domain tensors got no gradient; save -> restore of the pair
is bit-exact; merging the pair matches within 1e-5.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from tiny_models import (
    random_image_batch,
    random_text_batch,
    tiny_random_bert_classifier,
    tiny_random_efficientnet_classifier,
    tiny_random_gemma3,
    tiny_random_whisper_classifier,
    tiny_translation_vocab_size,
)
from torch import nn

from shared.checkpoint import merge_adapter, restore_adapter, save_adapter
from shared.inject import inject_method
from shared.stacking import (
    StackError,
    restore_stacked_adapter,
    stack_domain_adapters,
    stack_metadata,
    train_domain_members,
)


def whisper_batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(4, 8, 32, generator=generator)
    return {"input_features": features}, torch.randint(0, 3, (4,), generator=generator)


def decoder_batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(3, tiny_translation_vocab_size(), (4, 12), generator=generator)
    return {"input_ids": tokens, "attention_mask": torch.ones_like(tokens)}, tokens


@dataclass(frozen=True)
class Family:
    build: Callable[[], nn.Module]
    heads: list[str]
    batch: Callable[..., tuple[Any, torch.Tensor]]
    language_model: bool = False


FAMILIES = {
    "bert": Family(tiny_random_bert_classifier, ["classifier"], random_text_batch),
    "cnn": Family(tiny_random_efficientnet_classifier, ["classifier"], random_image_batch),
    "whisper": Family(tiny_random_whisper_classifier, ["projector", "classifier"], whisper_batch),
    "decoder": Family(tiny_random_gemma3, [], decoder_batch, language_model=True),
}
PAIRS = [("lora", "lora"), ("adapter_houlsby", "adapter_houlsby"), ("lora", "adapter_houlsby")]
CASES = [(family, *pair) for family in FAMILIES for pair in PAIRS] + [
    ("bert", "bitfit", "lora"),
    ("cnn", "ssf", "lora"),
]


def outputs(model: nn.Module, inputs: Any) -> torch.Tensor:
    output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    return getattr(output, "logits", output)


def loss(family: Family, model: nn.Module, batch) -> torch.Tensor:
    inputs, targets = batch
    scores = outputs(model, inputs)
    if family.language_model:
        return nn.functional.cross_entropy(scores[:, :-1].flatten(0, 1), targets[:, 1:].flatten())
    return nn.functional.cross_entropy(scores, targets)


def train(family: Family, model: nn.Module, batch, steps: int = 2) -> None:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss(family, model, batch).backward()
        optimizer.step()
    model.eval()


def evaluate(model: nn.Module, inputs: Any) -> torch.Tensor:
    with torch.no_grad():
        return outputs(model.eval(), inputs)


def domain_adapter(tmp_path, family: Family, method: str):
    """A domain adapter trained two steps on domain data (seed 5), saved like any run's."""
    model, report = inject_method(family.build(), {"name": method}, head_modules=family.heads)
    train(family, model, family.batch(seed=5))
    path = tmp_path / f"domain-{method}.safetensors"
    save_adapter(model, report, path)
    return path


def stacked(tmp_path, family_name: str, domain: str, task: str):
    family = FAMILIES[family_name]
    path = domain_adapter(tmp_path, family, domain)
    base, members = stack_domain_adapters(family.build(), [path], head_modules=family.heads)
    model, report = inject_method(base, {"name": task}, head_modules=family.heads)
    return family, path, model, report, members


@pytest.mark.parametrize(("family_name", "domain", "task"), CASES)
def test_each_member_is_active_and_only_the_task_adapter_and_head_train(
    tmp_path, family_name, domain, task, one_torch_thread
):
    family, _, model, report, [member] = stacked(tmp_path, family_name, domain, task)
    inputs = family.batch(seed=1)[0]
    with_domain = evaluate(model, inputs)
    with member.disabled():
        without_domain = evaluate(model, inputs)
    assert not torch.allclose(with_domain, without_domain, atol=1e-6), "domain member inactive"
    assert torch.equal(evaluate(model, inputs), with_domain), "enable restores the member"

    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert sum(p.numel() for n, p in model.named_parameters() if n in trainable) == (
        report.trainable_parameters
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(family, model, family.batch(), steps=1)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= trainable
    domain_tensors = set(member.tensors)
    gradients = {n for n, p in model.named_parameters() if p.grad is not None}
    assert gradients == trainable and not any(name in gradients for name in domain_tensors), (
        "the domain adapter got gradients"
    )

    train(family, model, family.batch(), steps=1)  # zero-initialised factors move from step 2
    trained = evaluate(model, inputs)
    task_tensors = {n: p for n, p in model.named_parameters() if n in trainable}
    heads_only = {n: p for n, p in task_tensors.items() if any(h in n for h in family.heads)}
    adapter_only = {n: p for n, p in task_tensors.items() if n not in heads_only}
    for name, parameter in adapter_only.items():
        parameter.data.copy_(before[name])
    assert not torch.allclose(trained, evaluate(model, inputs), atol=1e-6), "task adapter inactive"


@pytest.mark.parametrize(("family_name", "domain", "task"), CASES)
def test_save_restore_of_the_pair_is_bit_exact_and_merging_matches(
    tmp_path, family_name, domain, task, one_torch_thread
):
    family, path, model, report, members = stacked(tmp_path, family_name, domain, task)
    train(family, model, family.batch())
    inputs = family.batch(seed=1)[0]
    expected = evaluate(model, inputs)
    task_file = tmp_path / "task.safetensors"
    save_adapter(model, report, task_file, stack=stack_metadata(members))

    restored, _, _ = restore_stacked_adapter(family.build(), task_file, head_modules=family.heads)
    assert torch.equal(evaluate(restored, inputs), expected)
    if report.mergeable and members[0].method != "adapter_houlsby":
        merged = merge_adapter(copy.deepcopy(model), report)
        torch.testing.assert_close(evaluate(merged, inputs), expected, atol=1e-5, rtol=0)


def test_a_stacked_task_adapter_refuses_to_load_without_its_domain_adapter(tmp_path):
    family, path, model, report, members = stacked(tmp_path, "bert", "lora", "lora")
    task_file = tmp_path / "task.safetensors"
    save_adapter(model, report, task_file, stack=stack_metadata(members))
    with pytest.raises(ValueError, match="trained on top of domain adapters"):
        restore_adapter(family.build(), task_file)
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)  # the domain file changed since
    with pytest.raises(StackError, match="changed since"):
        restore_stacked_adapter(family.build(), task_file, head_modules=family.heads)


def test_bad_domain_adapters_are_named(tmp_path):
    family = FAMILIES["bert"]
    lora = domain_adapter(tmp_path, family, "lora")
    cases = {
        "neither an adapter file nor a run directory": [tmp_path / "missing"],
        "the same adapter twice": [lora, lora],
    }
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a safetensors file")
    cases["not a readable adapter"] = [corrupt]
    for message, paths in cases.items():
        with pytest.raises(StackError, match=message):
            stack_domain_adapters(family.build(), paths, head_modules=family.heads)
    other_base = domain_adapter(tmp_path / "cnn", FAMILIES["cnn"], "lora")
    with pytest.raises(StackError, match="saved from another base model"):
        stack_domain_adapters(family.build(), [other_base], head_modules=family.heads)


def test_a_prompt_tuning_domain_adapter_is_refused_with_the_reason(tmp_path):
    family = FAMILIES["bert"]
    path = domain_adapter(tmp_path, family, "prompt_tuning")
    with pytest.raises(StackError, match="cannot be a domain adapter: a soft prompt"):
        stack_domain_adapters(family.build(), [path], head_modules=family.heads)


TRAINABLE_CASES = [(family, "lora") for family in FAMILIES] + [("bert", "adapter_houlsby")]


@pytest.mark.parametrize(("family_name", "task"), TRAINABLE_CASES)
def test_a_trainable_domain_lora_trains_on_beside_the_task_adapter_and_restores_exactly(
    tmp_path, family_name, task, one_torch_thread
):
    family = FAMILIES[family_name]
    path = domain_adapter(tmp_path, family, "lora")
    base, [member] = stack_domain_adapters(
        family.build(), [path], head_modules=family.heads, trainable=True
    )
    model, report = inject_method(base, {"name": task}, head_modules=family.heads)
    frozen_count = report.trainable_parameters
    report, domain_parameters = train_domain_members(model, report, [member])
    assert member.trainable and domain_parameters
    assert report.trainable_parameters == frozen_count + sum(p.numel() for p in domain_parameters)
    inputs = family.batch(seed=1)[0]
    with_domain = evaluate(model, inputs)
    with member.disabled():
        assert not torch.allclose(with_domain, evaluate(model, inputs), atol=1e-6)
    assert torch.equal(evaluate(model, inputs), with_domain), "switching back restores it"

    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(family, model, family.batch(), steps=1)
    gradients = {n for n, p in model.named_parameters() if p.grad is not None}
    assert gradients == trainable
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in domain_parameters)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed <= trainable and any(".domain0_lora." in name for name in changed)

    train(family, model, family.batch())
    expected = evaluate(model, inputs)
    task_file = tmp_path / "task.safetensors"
    save_adapter(model, report, task_file, stack=stack_metadata([member]))
    restored, _, [restored_member] = restore_stacked_adapter(
        family.build(), task_file, head_modules=family.heads
    )
    assert restored_member.trainable
    assert torch.equal(evaluate(restored, inputs), expected), "trained domain tensors restored"


def test_only_a_lora_domain_adapter_can_stay_trainable(tmp_path):
    family = FAMILIES["bert"]
    path = domain_adapter(tmp_path, family, "bitfit")
    with pytest.raises(StackError, match="stack.train_domain: .* is a bitfit adapter; only lora"):
        stack_domain_adapters(family.build(), [path], head_modules=family.heads, trainable=True)
