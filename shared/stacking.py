"""Two-step PEFT: frozen domain adapters under a task adapter, each member switchable.

A domain adapter is any adapter file a run saved (`adapter.safetensors`), trained on domain
data; its task head is dropped here. Stacking loads each one onto the base model, frozen, before
the task method is injected on top:

- a mergeable method (the LoRA family, IA3, BitFit, SSF, norm tuning, full fine-tuning) is folded
  into the base weights: LoRA-family deltas add, BitFit/SSF/norm tuning become fixed changes of
  the base, and any task method (LoRA, bottleneck adapters, BitFit, ...) then goes on a plain
  model of the base architecture, on every backbone family the task method supports;
- bottleneck adapters stay modules, renamed `domain<i>_bottleneck_adapter`, and run in sequence
  before a task bottleneck adapter on the same layer (their output hooks were registered first);
- with `trainable=True` (Gema et al.'s "trainable clinical LoRA"), a LoRA domain adapter is not
  merged but stays a live low-rank branch (`domain<i>_lora`) beside each layer it adapted, so it
  trains on with the task adapter, at its own learning rate if asked.

Every member can be switched off and on again (`StackMember.disable` / `enable`): a merged one
swaps the base tensors it changed back to their original values, a bottleneck one or a live LoRA
branch swaps its parameters to their no-op values (a zero up-projection). The run proves with
this switch that each member is active (`shared.stack_proof`): silently inactive adapters are
the failure of two-step PEFT in the wild.

Methods that cannot be a domain adapter are refused with the reason: prompt tuning (a soft
prompt of a fixed length in front of the task's own) and a linear probe (nothing but the head,
which is dropped).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from peft.tuners.lora import LoraLayer
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from shared.checkpoint import (
    HEADS_KEY,
    STACK_KEY,
    load_adapter_state,
    load_state_checked,
    read_metadata,
    read_method_config,
)
from shared.inject import InjectionReport, inject_method
from shared.methods import get_method
from shared.methods.bottleneck import ADAPTER_ATTRIBUTE

ADAPTER_FILE = "adapter.safetensors"
# A live branch is out = layer(x) + up(down(dropout(x))) * scaling: plain LoRA's shape; DoRA
# rescales the whole weight and the other LoRA relatives factor it differently.
TRAINABLE_DOMAIN_METHODS = ("lora",)
NOT_DOMAIN_ADAPTERS = {
    "prompt_tuning": "a soft prompt cannot sit under the task's own input; use LoRA or an adapter",
    "linear_probe": "it trains only the task head, which a domain adapter drops",
}


class StackError(ValueError):
    """A domain adapter that cannot be stacked, or a stack that is not doing what it claims."""


@dataclass
class StackMember:
    """One frozen domain adapter in a stack, with the switch that proves it is active.

    `swap` maps a model state name to (value with the member, value without it).
    """

    method: str
    path: str
    sha256: str
    parameters: int
    modules: list[str]
    swap: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(repr=False)
    tensors: dict[str, torch.Tensor] = field(repr=False)  # live tensors, by state name
    trainable: bool = False  # a live LoRA branch that trains on with the task adapter

    def disable(self) -> None:
        for name, (_, without) in self.swap.items():
            self.tensors[name].data.copy_(without)

    def enable(self) -> None:
        for name, (with_member, _) in self.swap.items():
            self.tensors[name].data.copy_(with_member)

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Off for the block, then back to the values it had (a trainable member's may have
        moved since it was loaded)."""
        current = {name: self.tensors[name].detach().clone() for name in self.swap}
        self.disable()
        try:
            yield
        finally:
            for name, value in current.items():
                self.tensors[name].data.copy_(value)

    def live_parameters(self) -> list[nn.Parameter]:
        return [t for t in self.tensors.values() if isinstance(t, nn.Parameter)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "file": self.path,
            "sha256": self.sha256,
            "parameters": self.parameters,
            "modules": self.modules,
            "trainable": self.trainable,
        }


def adapter_file(path: str | Path) -> Path:
    """A run directory's adapter, or the adapter file itself; missing ones are named."""
    path = Path(path)
    candidate = path / ADAPTER_FILE if path.is_dir() else path
    if not candidate.is_file():
        raise StackError(
            f"stack.domain_adapters: {path} is neither an adapter file nor a run directory "
            f"holding {ADAPTER_FILE}"
        )
    return candidate


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_domain_adapters(
    paths: Sequence[str | Path], *, trainable: bool = False
) -> list[tuple[Path, dict[str, Any], str]]:
    """(file, method config, sha256) of each domain adapter: readable, of a known method that can
    be a domain adapter (one that can stay live if `trainable`), none twice. Cheap: no model
    needed, so configs check it up front."""
    checked, seen = [], {}
    for path in paths:
        file = adapter_file(path)
        try:
            config = read_method_config(file)
        except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as error:
            raise StackError(
                f"stack.domain_adapters: {file} is not a readable adapter ({error})"
            ) from None
        method = config.get("name")
        try:
            get_method(str(method))
        except ValueError as error:
            raise StackError(f"stack.domain_adapters: {file}: {error}") from None
        if method in NOT_DOMAIN_ADAPTERS:
            raise StackError(
                f"stack.domain_adapters: {file} is a {method} adapter, which cannot be a domain "
                f"adapter: {NOT_DOMAIN_ADAPTERS[method]}"
            )
        if trainable and method not in TRAINABLE_DOMAIN_METHODS:
            raise StackError(
                f"stack.train_domain: {file} is a {method} adapter; only "
                f"{', '.join(TRAINABLE_DOMAIN_METHODS)} domain adapters can stay trainable (a "
                "live low-rank branch); others are fixed changes of the base"
            )
        digest = sha256_of(file)
        if digest in seen:
            raise StackError(
                f"stack.domain_adapters names the same adapter twice: {seen[digest]} and {file}"
            )
        seen[digest] = file
        checked.append((file, config, digest))
    return checked


def without_head(state: dict[str, torch.Tensor], heads: Sequence[str]) -> dict[str, torch.Tensor]:
    """The adapter's tensors minus its task head (under any wrapper peft puts around it)."""
    return {
        name: tensor
        for name, tensor in state.items()
        if not any(f".{head}." in f".{name}" for head in heads)
    }


def load_domain_tensors(model: nn.Module, file: Path, heads: Sequence[str]) -> int:
    """Copy the domain adapter's tensors (head dropped) into the injected `model`; returns how
    many parameters it brought. Names or shapes that do not fit say the base model differs."""
    state = without_head(load_file(str(file)), heads)
    load_state_checked(model, state, f"stack.domain_adapters: {file}", StackError)
    return sum(tensor.numel() for tensor in state.values())


def merged_member(
    base: nn.Module, file: Path, config: dict[str, Any], digest: str, heads: list[str]
) -> tuple[nn.Module, StackMember]:
    """Fold a mergeable domain adapter into the base weights, remembering what it changed.

    `heads`: the task's head modules followed by the domain run's own; tensors under any of
    them are not loaded."""
    before = {name: tensor.detach().clone() for name, tensor in base.state_dict().items()}
    model, report = inject_method(base, config, head_modules=config["head_modules"])
    parameters = load_domain_tensors(model, file, heads)
    merged = get_method(report.method).merge(model)
    merged.requires_grad_(False)
    live = merged.state_dict(keep_vars=True)
    # A tensor the merge added (SSF's new biases) is off at zero.
    swap = {
        name: (tensor.detach().clone(), before.get(name, torch.zeros_like(tensor.detach())))
        for name, tensor in live.items()
        if name not in before or not torch.equal(tensor.detach(), before[name])
    }
    tensors = {name: live[name] for name in swap}
    return merged, StackMember(
        report.method, str(file), digest, parameters, report.adapted_modules, swap, tensors
    )


def bottleneck_member(
    base: nn.Module,
    file: Path,
    config: dict[str, Any],
    digest: str,
    heads: list[str],
    position: int,
) -> tuple[nn.Module, StackMember]:
    """Keep domain bottleneck adapters as modules, frozen and renamed so a task adapter can
    follow them on the same layers."""
    model, report = inject_method(base, config, head_modules=config["head_modules"])
    parameters = load_domain_tensors(model, file, heads)
    model.requires_grad_(False)
    modules = dict(model.named_modules())
    renamed = f"domain{position}_{ADAPTER_ATTRIBUTE}"
    for name in report.adapted_modules:
        layer = modules[name]
        layer.add_module(renamed, layer._modules.pop(ADAPTER_ATTRIBUTE))
    adapters, swap = up_projection_switch(model, renamed)
    return model, StackMember(
        report.method, str(file), digest, parameters, report.adapted_modules, swap, adapters
    )


def up_projection_switch(
    model: nn.Module, attribute: str
) -> tuple[dict[str, torch.Tensor], dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """The live tensors under every `attribute` submodule (a domain bottleneck adapter or LoRA
    branch), and the swap that turns them off: a zero up-projection adds nothing."""
    live = model.state_dict(keep_vars=True)
    tensors = {name: t for name, t in live.items() if f".{attribute}." in f".{name}"}
    swap = {
        name: (tensor.detach().clone(), torch.zeros_like(tensor.detach()))
        for name, tensor in tensors.items()
        if ".up." in name
    }
    return tensors, swap


class LowRankBranch(nn.Module):
    """A LoRA domain adapter's branch on one layer: up(down(dropout(x))) * scaling, added to the
    layer's output by a forward hook, so whatever wraps the layer later (a task LoRA's
    `base_layer`) still runs it."""

    def __init__(self, down: nn.Module, up: nn.Module, dropout: nn.Module, scaling: float):
        super().__init__()
        self.down, self.up, self.dropout, self.scaling = down, up, dropout, scaling

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(self.dropout(inputs))) * self.scaling


def add_branch_output(layer: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    for branch in layer.children():
        if isinstance(branch, LowRankBranch):
            output = output + branch(args[0])
    return output


def live_lora_member(
    base: nn.Module,
    file: Path,
    config: dict[str, Any],
    digest: str,
    heads: list[str],
    position: int,
) -> tuple[nn.Module, StackMember]:
    """Keep a LoRA domain adapter as live branches beside the layers it adapted (the base
    weights untouched), so it can train on with the task adapter."""
    model, report = inject_method(base, config, head_modules=config["head_modules"])
    parameters = load_domain_tensors(model, file, heads)
    branches = [
        (
            layer.get_base_layer(),
            LowRankBranch(
                layer.lora_A["default"],
                layer.lora_B["default"],
                layer.lora_dropout["default"],
                layer.scaling["default"],
            ),
        )
        for layer in model.modules()
        if isinstance(layer, LoraLayer) and "default" in layer.lora_A
    ]
    plain = model.unload()  # the base layers back in place, untouched
    for layer, branch in branches:
        layer.add_module(f"domain{position}_lora", branch)
        if add_branch_output not in layer._forward_hooks.values():
            layer.register_forward_hook(add_branch_output)
    plain.requires_grad_(False)
    tensors, swap = up_projection_switch(plain, f"domain{position}_lora")
    member = StackMember(
        report.method, str(file), digest, parameters, report.adapted_modules, swap, tensors, True
    )
    return plain, member


def stack_domain_adapters(
    base: nn.Module,
    paths: Sequence[str | Path],
    *,
    head_modules: list[str],
    trainable: bool = False,
) -> tuple[nn.Module, list[StackMember]]:
    """Load `paths` onto `base` in order, frozen; returns the model to inject the task method
    into and the members. `trainable`: keep them as live LoRA branches, for
    `train_domain_members` to unfreeze once the task method is in."""
    members = []
    model = base
    checked = check_domain_adapters(paths, trainable=trainable)
    for position, (file, config, digest) in enumerate(checked):
        method = get_method(config["name"])
        config = {**config, "head_modules": head_modules}
        # Its own head (e.g. a masked-LM head) may have other names than the task's.
        own_heads = json.loads(read_metadata(file).get(HEADS_KEY, "[]"))
        heads = [*head_modules, *(h for h in own_heads if h not in head_modules)]
        if trainable:
            model, member = live_lora_member(model, file, config, digest, heads, position)
        elif method.merge is not None:
            model, member = merged_member(model, file, config, digest, heads)
        else:
            model, member = bottleneck_member(model, file, config, digest, heads, position)
        members.append(member)
    model.requires_grad_(False)
    return model, members


def train_domain_members(
    model: nn.Module, report: InjectionReport, members: Sequence[StackMember]
) -> tuple[InjectionReport, list[nn.Parameter]]:
    """Unfreeze the trainable members once the task method is in (injecting it froze them);
    returns the report with the trainable count including them, and their parameters."""
    parameters = [p for member in members if member.trainable for p in member.live_parameters()]
    for parameter in parameters:
        parameter.requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return replace(report, trainable_parameters=trainable), parameters


def stack_metadata(members: Sequence[StackMember]) -> str:
    """What a task adapter trained on a stack records of it: each member's file and checksum,
    and whether it trained on (its trained tensors are then in the task adapter's file)."""
    return json.dumps(
        [
            {"file": m.path, "sha256": m.sha256, "method": m.method, "trainable": m.trainable}
            for m in members
        ]
    )


def stacked_task_report(report: InjectionReport, members: Sequence[StackMember]) -> dict:
    return {
        "members": [member.to_dict() for member in members],
        "task": {"method": report.method, "modules": report.adapted_modules},
    }


def restore_stacked_adapter(
    base: nn.Module, path: str | Path, *, head_modules: list[str]
) -> tuple[nn.Module, InjectionReport, list[StackMember]]:
    """A stacked run's task adapter on a fresh `base`: its domain adapters first (each checked
    against the checksum recorded at training time), then the task adapter, whose file also
    holds a trainable domain adapter's trained tensors."""
    metadata = read_metadata(path)
    if STACK_KEY not in metadata:
        raise StackError(f"{path} was not trained on domain adapters; use restore_adapter")
    recorded = json.loads(metadata[STACK_KEY])
    for entry in recorded:
        file = adapter_file(entry["file"])
        if sha256_of(file) != entry["sha256"]:
            raise StackError(
                f"{file} changed since {path} was trained on it (sha256 differs); the task "
                "adapter would sit on a different domain adapter"
            )
    model, members = stack_domain_adapters(
        base,
        [entry["file"] for entry in recorded],
        head_modules=head_modules,
        trainable=any(entry.get("trainable", False) for entry in recorded),
    )
    model, report = inject_method(model, read_method_config(path), head_modules=head_modules)
    load_adapter_state(model, path)
    return model, report, members
