"""Proof, in every stacked run, that each member of the stack does what it claims.

Counting parameters proves nothing: Gema et al.'s released two-step code counted a downstream
LoRA that never received a gradient. So at the first training step `StackProof` checks, on the
real batch:

1. before the step, switching each frozen domain member off changes the model's output;
2. after backward, the task member's tensors have gradients and at least one is non-zero, and
   the tensors that received a gradient are exactly those declared trainable (task method and
   head; the domain members' gradients are None, unless a member was asked to train on: then
   its gradients must be non-zero too);
3. after the optimiser step, switching the task adapter (not the head) back to its initial
   values changes the output.

A violation stops the run with an error naming the inactive or leaking member. The findings go
to metrics.json under `stack.proof`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import lightning
import torch
from torch import nn

from shared.stacking import StackError, StackMember


@contextmanager
def deterministic(model: nn.Module) -> Iterator[None]:
    """Eval mode without gradients (dropout would make two forward passes differ), then each
    module's own mode back, so frozen BatchNorm layers stay frozen."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes.items():
            module.train(training)


def largest_change(first: torch.Tensor, second: torch.Tensor) -> float:
    return float((first.float() - second.float()).abs().max())


class StackProof(lightning.Callback):
    """Runs the checks above once, on the first training batch.

    Args:
        members: the frozen domain members.
        outputs: the module's output for a batch (e.g. its logits), as the loss sees it.
        head_modules: the task head, trainable but not part of the task adapter: switching the
            adapter off leaves the trained head in place, so the head alone cannot pass check 3.
        tolerance: the smallest output change that counts as "changed".
    """

    def __init__(
        self,
        members: Sequence[StackMember],
        outputs: Callable[[Any], torch.Tensor],
        head_modules: Sequence[str],
        tolerance: float = 1e-6,
    ) -> None:
        self.members = list(members)
        self.outputs = outputs
        self.head_modules = list(head_modules)
        self.tolerance = tolerance
        # Trainable domain members' tensors: trained, but not part of the task adapter.
        self._member_tensors = {id(p) for m in self.members for p in m.live_parameters()}
        self.findings: dict[str, Any] = {}
        self._batch: Any = None
        self._initial: dict[str, torch.Tensor] = {}
        self._trainable: dict[str, nn.Parameter] = {}

    def state_dict(self) -> dict[str, Any]:
        """Findings travel in checkpoints: a resumed run has passed the first step already."""
        return {"findings": self.findings}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.findings = state["findings"]

    def in_head(self, name: str) -> bool:
        return any(f".{head}." in f".{name}" for head in self.head_modules)

    def in_task_adapter(self, name: str, parameter: nn.Parameter) -> bool:
        return not self.in_head(name) and id(parameter) not in self._member_tensors

    @property
    def done(self) -> bool:
        return "task_member_active" in self.findings

    def on_train_batch_start(self, trainer, module, batch, batch_index) -> None:
        if self.done or self._batch is not None:
            return
        self._batch = batch
        self._trainable = {n: p for n, p in module.model.named_parameters() if p.requires_grad}
        self._initial = {
            n: p.detach().clone() for n, p in self._trainable.items() if self.in_task_adapter(n, p)
        }
        with deterministic(module.model):
            reference = self.outputs(batch)
            changes = {}
            for member in self.members:
                with member.disabled():
                    changes[member.path] = largest_change(reference, self.outputs(batch))
        self.findings["domain_members_active"] = changes
        inactive = [path for path, change in changes.items() if change <= self.tolerance]
        if inactive:
            raise StackError(
                f"domain adapter(s) {inactive} are inactive: switching them off does not change "
                "the model's output"
            )

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        if self.done or "gradients" in self.findings:
            return
        with_gradient = {n for n, p in module.model.named_parameters() if p.grad is not None}
        declared = set(self._trainable)
        leaking, missing = sorted(with_gradient - declared), sorted(declared - with_gradient)
        if leaking or missing:
            raise StackError(
                f"gradients reached {leaking[:3]} (not declared trainable) and missed "
                f"{missing[:3]} (declared trainable): the stack trains something other than "
                "the task adapter, head and any domain adapter asked to train"
            )
        adapter = [p for n, p in self._trainable.items() if self.in_task_adapter(n, p)]
        norm = sum(float(p.grad.abs().sum()) for p in adapter)
        if not adapter or norm == 0.0:
            raise StackError("the task adapter received only zero gradients at the first step")
        trained_members = {
            member.path: sum(float(p.grad.abs().sum()) for p in member.live_parameters())
            for member in self.members
            if member.trainable
        }
        silent = [path for path, member_norm in trained_members.items() if member_norm == 0.0]
        if silent:
            raise StackError(f"trainable domain adapter(s) {silent} received only zero gradients")
        self.findings["gradients"] = {
            "tensors_with_gradient": len(with_gradient),
            "declared_trainable": len(declared),
            "gradient_abs_sum": norm,
            "domain_gradient_abs_sum": trained_members,
        }

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        if self.done or self._batch is None:
            return
        with deterministic(module.model):
            trained = self.outputs(self._batch)
            adapter = {n: self._trainable[n] for n in self._initial}
            current = {n: p.detach().clone() for n, p in adapter.items()}
            for name, parameter in adapter.items():
                parameter.data.copy_(self._initial[name])
            initial = self.outputs(self._batch)
            for name, parameter in adapter.items():
                parameter.data.copy_(current[name])
        change = largest_change(trained, initial)
        self.findings["task_member_active"] = change
        self._batch, self._initial = None, {}
        if change <= self.tolerance:
            raise StackError(
                "the task adapter is inactive: after its first step, switching it back to its "
                "initial values does not change the model's output"
            )
