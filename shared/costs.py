"""Cost accounting for every run: what a PEFT method saves is half of its story.

`CostTracker` is a Lightning callback measuring training time, throughput, evaluation latency
and peak memory (CUDA max allocated on GPU, peak resident set size of the process on CPU). Its
training counts travel in every checkpoint, so a run killed and resumed reports the costs of the
whole run (the work up to the checkpoint it resumed from, plus what came after), and says how
many processes it took and from which step it resumed.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import lightning
import torch


def peak_memory_megabytes(device: torch.device) -> tuple[float, str]:
    """(peak memory in MiB, what was measured) for the device the run used."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    # Linux reports ru_maxrss in KiB; it is the process-lifetime peak, model loading included.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu_peak_rss"


class CostTracker(lightning.Callback):
    """Measures a run's costs; read them from `costs` after `fit` and `test`.

    The module must say how many examples a batch holds (`module.batch_size(batch)`).
    """

    def __init__(self) -> None:
        self.train_samples = 0
        self.step_seconds = 0.0
        self.fit_seconds = 0.0
        self.global_step = 0
        self.processes = 1
        self.resumed_from_step: int | None = None
        self.test_samples = 0
        self.test_seconds = 0.0
        self._fit_start: float | None = None
        self._resumed_state: dict[str, Any] | None = None
        self._batch_start = 0.0
        self.device = torch.device("cpu")

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: training work done so far, this process's time included."""
        return {
            "train_samples": self.train_samples,
            "step_seconds": self.step_seconds,
            "fit_seconds": self.fit_seconds + self._running_fit_seconds(),
            "global_step": self.global_step,
            "processes": self.processes,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Held until `fit` starts: only resuming a fit continues the counts. Lightning also
        restores callbacks when testing from the best checkpoint, whose counts are older."""
        self._resumed_state = state

    def _resume(self, state: dict[str, Any]) -> None:
        self.train_samples = state["train_samples"]
        self.step_seconds = state["step_seconds"]
        self.fit_seconds = state["fit_seconds"]
        self.global_step = state["global_step"]
        self.processes = state["processes"] + 1
        self.resumed_from_step = state["global_step"]

    def _running_fit_seconds(self) -> float:
        return 0.0 if self._fit_start is None else time.perf_counter() - self._fit_start

    def on_fit_start(self, trainer, module) -> None:
        if self._resumed_state is not None:
            self._resume(self._resumed_state)
        self._resumed_state = None
        self.device = module.device
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._fit_start = time.perf_counter()

    def on_fit_end(self, trainer, module) -> None:
        self.fit_seconds += self._running_fit_seconds()
        self._fit_start = None

    def on_train_batch_start(self, trainer, module, batch, batch_index) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.step_seconds += time.perf_counter() - self._batch_start
        self.train_samples += module.batch_size(batch)
        self.global_step = trainer.global_step

    def on_test_start(self, trainer, module) -> None:
        self._resumed_state = None
        self.device = module.device  # a zero-shot run tests without fitting

    def on_test_batch_start(self, trainer, module, batch, batch_index, dataloader_idx=0) -> None:
        self._batch_start = time.perf_counter()

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_index, dataloader_idx=0):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.test_seconds += time.perf_counter() - self._batch_start
        self.test_samples += module.batch_size(batch)

    @property
    def costs(self) -> dict[str, Any]:
        peak, kind = peak_memory_megabytes(self.device)
        return {
            "train_seconds": self.fit_seconds,
            "train_step_seconds": self.step_seconds,
            "train_samples": self.train_samples,
            "train_steps": self.global_step,
            "train_samples_per_second": self.train_samples / self.step_seconds
            if self.step_seconds
            else None,
            "eval_latency_ms_per_sample": 1000 * self.test_seconds / self.test_samples
            if self.test_samples
            else None,
            "peak_memory_mb": peak,
            "peak_memory_kind": kind,
            "device": str(self.device),
            "processes": self.processes,
            "resumed_from_step": self.resumed_from_step,
        }
