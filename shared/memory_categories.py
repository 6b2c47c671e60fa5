"""Memory by category for one training step: parameters, gradients, optimizer state, activations.

`CostTracker` reports one number per run (CUDA max allocated, or the process's peak RSS). This
module says what that memory holds. A `CategoryTracker` watches every tensor storage on the
run's device through one training step and files each under a category:

- parameters_frozen, parameters_trainable, buffers: the model's own tensors;
- gradients: `.grad` of trainable parameters (kept from the previous step, and the new ones);
- optimizer_state: the optimizer's per-parameter state (AdamW: exp_avg, exp_avg_sq, step);
- activations: tensors created in the forward pass (and the loss), saved for backward or not;
- backward_temporaries: tensors created in backward that do not become a `.grad`;
- optimizer_temporaries: tensors created inside the optimizer step that are not its state;
- inputs: the batch; other: tensors from before the step that ops read but nobody registered.

For each category it keeps the most bytes it held at any moment of the step, and the total at
its highest with its breakdown at that moment. The floor is what a step cannot do without:
frozen weights + trainable weights + their gradients + AdamW's two moments (4x the trainable
weights in all) + the activations' peak; the distance of the peak from it is what the rest
(temporaries, inputs, buffers, the AdamW step counters) adds.

Why not `torch.distributed._tools.mem_tracker.MemTracker`, which does this on CPU as well: with
torch 2.14 it raises on the first forward of a model with a frozen parameter (it registers a
gradient hook on every parameter: "cannot register a hook on a tensor that doesn't require
gradient"), which is every PEFT model; it reports the breakdown at the total peak only, not
each category's peak; it files the step's temporaries as optimizer state; and under Lightning,
whose forward and backward run inside `optimizer.step(closure)`, it would file the activations
as optimizer state too. This tracker uses the same mechanism (a `TorchDispatchMode` sees every
tensor an operator returns; a weak reference to its storage says when it is freed) and public
hooks: post-accumulate-grad hooks for gradients, and the caller (or Lightning's
`on_before_optimizer_step`) marking the optimizer step. The backward pass is told apart by the
autograd engine's current graph task.

Bytes are storage sizes, so a view costs nothing and tensors sharing a storage count once. On
CUDA each storage is rounded up to the caching allocator's 512-byte blocks; the allocator's
other slack, the CUDA context and, on CPU, everything outside tensors (Python, libraries) are
not tensors and are not here: `CostTracker`'s figures, beside these, include them.

Two ways in:

- `measure_memory_categories(model, optimizer, batch, loss_fn)`: one step of a plain loop
  (after `warmup_steps` untracked ones), in Lightning's order: forward, zero_grad, backward,
  optimizer step. It trains `model` for those steps; pass a copy to keep yours.
- `MemoryCategoryProbe`, a Lightning callback: it watches the run's own steps (the module's own
  `training_step`, the run's own optimizer) and reads `memory_by_category` for metrics.json.
  It only watches: no tensor is created, copied or changed and no random number is drawn for
  it, so the run's parameters, optimizer state and results are bit-identical to a run without
  it (tests/shared/test_memory_categories.py checks this on a tiny BERT with dropout); the
  watched steps only run slower (every operator passes through Python).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import lightning
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

PARAMETERS_FROZEN = "parameters_frozen"
PARAMETERS_TRAINABLE = "parameters_trainable"
BUFFERS = "buffers"
GRADIENTS = "gradients"
OPTIMIZER_STATE = "optimizer_state"
ACTIVATIONS = "activations"
BACKWARD_TEMPORARIES = "backward_temporaries"
OPTIMIZER_TEMPORARIES = "optimizer_temporaries"
INPUTS = "inputs"
OTHER = "other"
CATEGORIES = (
    PARAMETERS_FROZEN,
    PARAMETERS_TRAINABLE,
    BUFFERS,
    GRADIENTS,
    OPTIMIZER_STATE,
    ACTIVATIONS,
    BACKWARD_TEMPORARIES,
    OPTIMIZER_TEMPORARIES,
    INPUTS,
    OTHER,
)

FORWARD = "forward"
BACKWARD = "backward"
OPTIMIZER_STEP = "optimizer step"

MEBIBYTE = 2**20
# The CUDA caching allocator hands out blocks in multiples of 512 bytes.
CUDA_BLOCK_BYTES = 512
# AdamW keeps two moments (exp_avg, exp_avg_sq) of every trainable parameter.
ADAM_MOMENTS = 2

NEW_TENSOR_CATEGORY = {
    FORWARD: ACTIVATIONS,
    BACKWARD: BACKWARD_TEMPORARIES,
    OPTIMIZER_STEP: OPTIMIZER_TEMPORARIES,
}


@dataclass(frozen=True)
class MemoryCategories:
    """What one training step held, in bytes.

    Attributes:
        device: the device whose tensors were counted.
        steady_state: whether the optimizer already held its state when the step began (every
            step after the first): a first step builds AdamW's moments only in its optimizer
            step (until that step ends they count as optimizer temporaries), so its peak is
            lower than the run's.
        peaks: for every category, the most bytes it held at any moment of the step.
        peak: all counted tensor bytes at their highest.
        at_peak: each category's bytes at that moment.
        phase_at_peak: "forward", "backward" or "optimizer step".
    """

    device: str
    steady_state: bool
    peaks: dict[str, int]
    peak: int
    at_peak: dict[str, int]
    phase_at_peak: str

    @property
    def floor(self) -> int:
        """Frozen weights + trainable weights, their gradients and two AdamW moments (4x the
        trainable weights) + the activations' peak."""
        weights, gradients = self.peaks[PARAMETERS_TRAINABLE], self.peaks[PARAMETERS_TRAINABLE]
        moments = ADAM_MOMENTS * weights
        return (
            self.peaks[PARAMETERS_FROZEN] + weights + gradients + moments + self.peaks[ACTIVATIONS]
        )

    @property
    def peak_above_floor(self) -> int:
        return self.peak - self.floor

    def to_dict(self) -> dict[str, Any]:
        """The figures in MiB, for metrics.json (`memory_by_category`)."""
        return {
            "unit": "MiB",
            "device": self.device,
            "step": "steady" if self.steady_state else "first",
            "peak_per_category": {name: mebibytes(value) for name, value in self.peaks.items()},
            "peak": mebibytes(self.peak),
            "at_peak": {name: mebibytes(value) for name, value in self.at_peak.items()},
            "phase_at_peak": self.phase_at_peak,
            "floor": mebibytes(self.floor),
            "peak_above_floor": mebibytes(self.peak_above_floor),
            "peak_over_floor": self.peak / self.floor if self.floor else None,
        }


def mebibytes(count: int) -> float:
    return count / MEBIBYTE


@dataclass
class _Storage:
    category: str
    size: int
    reference: weakref.ref = field(repr=False)


class CategoryTracker(TorchDispatchMode):
    """Files every tensor storage on `device` under a category while active; see the module.

    Register what exists before the step (`register`), enter, run the step with the optimizer
    step inside `optimizer_step`, exit, read `result`. New tensors are filed by when they are
    made: forward (the default), backward (seen from the autograd engine) or the optimizer step.
    """

    def __init__(self, device: torch.device | str) -> None:
        super().__init__()
        self.device = torch.device(device)
        self.phase = FORWARD
        self._storages: dict[int, _Storage] = {}
        self._current = dict.fromkeys(CATEGORIES, 0)
        self._peaks = dict.fromkeys(CATEGORIES, 0)
        self._total = 0
        self._peak = 0
        self._at_peak = dict(self._current)
        self._phase_at_peak = FORWARD
        self._hooks: list[Any] = []
        self._active = False

    # What exists before the step.

    def register(
        self,
        model: nn.Module | None = None,
        optimizers: Iterable[torch.optim.Optimizer] = (),
        inputs: Any = None,
    ) -> None:
        """File the model's parameters, buffers and gradients, the optimizers' state and the
        inputs; watch the trainable parameters' gradients. Trainable parameters come first, so a
        storage a trainable and a frozen parameter share counts as trainable."""
        if model is not None:
            parameters = list(model.parameters())
            for parameter in parameters:
                if parameter.requires_grad:
                    self._file(parameter, PARAMETERS_TRAINABLE)
                    self._hooks.append(
                        parameter.register_post_accumulate_grad_hook(self._gradient_accumulated)
                    )
            for parameter in parameters:
                self._file(parameter, PARAMETERS_FROZEN)
                if parameter.grad is not None:
                    self._file(parameter.grad, GRADIENTS)
            for buffer in model.buffers():
                self._file(buffer, BUFFERS)
        for optimizer in optimizers:
            self.file_optimizer_state(optimizer)
        self.register_inputs(inputs)

    def register_inputs(self, inputs: Any) -> None:
        for tensor in tensors_in(inputs):
            self._file(tensor, INPUTS)

    def file_optimizer_state(self, optimizer: torch.optim.Optimizer) -> None:
        """File the optimizer's state (made during its first step) and the gradients it read."""
        for state in optimizer.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor):
                    self._file(value, OPTIMIZER_STATE, refile=True)
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    self._file(parameter.grad, GRADIENTS, refile=True)

    @contextmanager
    def optimizer_step(self, optimizers: Iterable[torch.optim.Optimizer]) -> Iterator[None]:
        """Run the optimizer step inside this: what it makes is optimizer temporaries, until its
        state is filed as such when it ends."""
        self.phase = OPTIMIZER_STEP
        try:
            yield
        finally:
            self.end_optimizer_step(optimizers)

    def end_optimizer_step(self, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        for optimizer in optimizers:
            self.file_optimizer_state(optimizer)
        self.phase = FORWARD

    # Entering and leaving.

    def __enter__(self) -> CategoryTracker:
        self._active = True
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self.close()

    def close(self) -> None:
        """Stop counting and drop every hook and reference (exiting does this)."""
        self._active = False
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        # Dropping the weak references drops their callbacks: nothing is counted any more.
        self._storages.clear()

    def result(self, steady_state: bool) -> MemoryCategories:
        return MemoryCategories(
            device=str(self.device),
            steady_state=steady_state,
            peaks=dict(self._peaks),
            peak=self._peak,
            at_peak=dict(self._at_peak),
            phase_at_peak=self._phase_at_peak,
        )

    # Counting.

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        output = func(*args, **kwargs)
        if self._active:
            # Before the step or not ours: tensors an operator reads that nobody registered.
            for tensor in tensors_in((args, kwargs)):
                self._file(tensor, OTHER)
            category = NEW_TENSOR_CATEGORY[self._phase_now()]
            for tensor in tensors_in(output):
                self._file(tensor, category, resized=True)
        return output

    def _phase_now(self) -> str:
        # The autograd engine runs a graph task only during backward (on any thread).
        if torch._C._current_graph_task_id() != -1:
            return BACKWARD
        return self.phase

    def _gradient_accumulated(self, parameter: torch.Tensor) -> None:
        if parameter.grad is not None:
            self._file(parameter.grad, GRADIENTS, refile=True)

    def _file(
        self, tensor: torch.Tensor, category: str, refile: bool = False, resized: bool = False
    ) -> None:
        """Count `tensor`'s storage under `category` if new; move it there if `refile`; follow
        a size change if `resized` (an operator may resize an output's storage)."""
        storage = storage_of(tensor, self.device)
        if storage is None:
            return
        key = storage._cdata
        known = self._storages.get(key)
        if known is None:
            size = self._size(storage)
            reference = weakref.ref(storage, functools.partial(self._freed, key))
            self._storages[key] = _Storage(category, size, reference)
            self._change(category, size)
        elif refile and known.category != category:
            self._change(known.category, -known.size)
            known.category = category
            self._change(category, known.size)
        elif resized and (size := self._size(storage)) != known.size:
            self._change(known.category, size - known.size)
            known.size = size

    def _freed(self, key: int, _reference: weakref.ref) -> None:
        known = self._storages.pop(key, None)
        if known is not None:
            self._change(known.category, -known.size)

    def _size(self, storage: torch.UntypedStorage) -> int:
        size = storage.nbytes()
        if self.device.type == "cuda":
            return -(-size // CUDA_BLOCK_BYTES) * CUDA_BLOCK_BYTES
        return size

    def _change(self, category: str, delta: int) -> None:
        self._current[category] += delta
        self._total += delta
        if delta > 0:
            self._peaks[category] = max(self._peaks[category], self._current[category])
            if self._total > self._peak:
                self._peak = self._total
                self._at_peak = dict(self._current)
                self._phase_at_peak = self._phase_now()


def tensors_in(values: Any) -> Iterator[torch.Tensor]:
    """The tensors in a nest of lists, tuples and dicts (a batch, an operator's arguments)."""
    for leaf in tree_flatten(values)[0]:
        if isinstance(leaf, torch.Tensor):
            yield leaf


def storage_of(tensor: torch.Tensor, device: torch.device) -> torch.UntypedStorage | None:
    """The storage holding `tensor`'s data, if it is on `device` and has one (not a sparse,
    nested or wrapper tensor)."""
    if tensor.device != device or tensor.is_sparse or tensor.is_nested:
        return None
    try:
        return tensor.untyped_storage()
    except (RuntimeError, NotImplementedError):
        return None


def model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


LossFunction = Callable[[nn.Module, Any], torch.Tensor]
OptimizerOrFactory = torch.optim.Optimizer | Callable[[nn.Module], torch.optim.Optimizer]


def train_one_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Any,
    loss_fn: LossFunction,
    tracker: CategoryTracker | None = None,
) -> None:
    """One step in Lightning's order: the previous step's gradients live through the forward."""
    loss = loss_fn(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if tracker is None:
        optimizer.step()
        return
    with tracker.optimizer_step([optimizer]):
        optimizer.step()


def measure_memory_categories(
    model: nn.Module,
    optimizer: OptimizerOrFactory,
    batch: Any,
    loss_fn: LossFunction,
    *,
    warmup_steps: int = 1,
) -> MemoryCategories:
    """Memory by category of one training step of `model` on `batch`.

    Args:
        model: trained in place, in the mode it is in, for `warmup_steps` + 1 steps.
        optimizer: an optimizer over `model`'s trainable parameters, or a function making one
            from `model`.
        batch: what `loss_fn` takes; its tensors count as inputs.
        loss_fn: `loss_fn(model, batch)` -> scalar loss.
        warmup_steps: untracked steps first; with one or more the tracked step is a steady one
            (the optimizer's state and the previous gradients exist when it begins).
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer(model)
    for _ in range(warmup_steps):
        train_one_step(model, optimizer, batch, loss_fn)
    steady_state = len(optimizer.state) > 0
    tracker = CategoryTracker(model_device(model))
    tracker.register(model, [optimizer], batch)
    with tracker:
        train_one_step(model, optimizer, batch, loss_fn, tracker)
    return tracker.result(steady_state)


class MemoryCategoryProbe(lightning.Callback):
    """Memory by category of the run's own training steps; read `memory_by_category` after fit.

    It watches the first optimizer step of the fit and, if there is one, the second: the second
    is steady (AdamW's moments and the previous gradients exist from its start, as in every
    later step) and is the one reported; a fit of one step reports its first. A watched step
    runs from a batch's `on_train_batch_start` to the `on_train_batch_end` of the batch whose
    optimizer step ends it (several batches when gradients accumulate). The probe only watches
    (see the module's docstring): the run is bit-identical with and without it.
    """

    def __init__(self) -> None:
        self.first: MemoryCategories | None = None
        self.steady: MemoryCategories | None = None
        self._tracker: CategoryTracker | None = None
        self._steady_window = False
        self._window_start_step = 0

    @property
    def result(self) -> MemoryCategories | None:
        return self.steady if self.steady is not None else self.first

    @property
    def memory_by_category(self) -> dict[str, Any] | None:
        """The result for metrics.json, or None if no optimizer step was watched."""
        result = self.result
        return None if result is None else result.to_dict()

    def on_train_batch_start(self, trainer, module, batch, batch_index) -> None:
        if self._tracker is not None:  # accumulating gradients: the step goes on
            self._tracker.register_inputs(batch)
            return
        if self.steady is not None:
            return
        optimizers = list(trainer.optimizers)
        self._steady_window = any(len(optimizer.state) > 0 for optimizer in optimizers)
        self._window_start_step = trainer.global_step
        tracker = CategoryTracker(module.device)
        tracker.register(module, optimizers, batch)
        tracker.__enter__()
        self._tracker = tracker

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        if self._tracker is not None:
            self._tracker.phase = OPTIMIZER_STEP

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        tracker = self._tracker
        if tracker is None:
            return
        if trainer.global_step == self._window_start_step:  # no optimizer step yet
            tracker.phase = FORWARD
            return
        tracker.end_optimizer_step(trainer.optimizers)
        self._stop()
        result = tracker.result(self._steady_window)
        if self._steady_window:
            self.steady = result
        else:
            self.first = result

    def on_train_end(self, trainer, module) -> None:
        self._stop()  # a step the fit did not finish is not reported

    def on_exception(self, trainer, module, exception) -> None:
        self._stop()

    def _stop(self) -> None:
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.__exit__(None, None, None)
