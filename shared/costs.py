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
from pathlib import Path
from typing import Any

import lightning
import torch

RAPL_ENERGY = Path("/sys/class/powercap/intel-rapl:0/energy_uj")


def process_cpu_seconds() -> float:
    """CPU time of this process and its finished children (data loader workers), all cores."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rapl_joules() -> float | None:
    """The CPU package's energy counter, where the kernel exposes it (Intel RAPL)."""
    try:
        return int(RAPL_ENERGY.read_text()) / 1e6
    except (OSError, ValueError):
        return None


def energy_estimate(cpu_seconds: float, measured_joules: float | None, watts: float) -> dict:
    """Training energy in joules, labelled with how it was obtained: a hardware counter where
    there is one, else CPU time times an assumed power per busy core."""
    if measured_joules is not None:
        return {"joules": measured_joules, "method": "measured: RAPL package counter"}
    return {
        "joules": cpu_seconds * watts,
        "method": (
            f"estimate: training CPU time ({cpu_seconds:.1f} s over all cores) x {watts} W per "
            "busy core (run.watts_per_cpu_core, assumed; no power counter on this machine; "
            "GPU energy not included)"
        ),
    }


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

    def __init__(self, watts_per_cpu_core: float = 10.0) -> None:
        self.watts_per_cpu_core = watts_per_cpu_core
        self.cpu_seconds = 0.0
        self.rapl_joules: float | None = None
        self._cpu_start = 0.0
        self._rapl_start: float | None = None
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
            "cpu_seconds": self.cpu_seconds + self._running_cpu_seconds(),
            "rapl_joules": self.rapl_joules,  # finished fits only
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
        self.cpu_seconds = state.get("cpu_seconds", 0.0)
        self.rapl_joules = state.get("rapl_joules")
        self.global_step = state["global_step"]
        self.processes = state["processes"] + 1
        self.resumed_from_step = state["global_step"]

    def _running_fit_seconds(self) -> float:
        return 0.0 if self._fit_start is None else time.perf_counter() - self._fit_start

    def _running_cpu_seconds(self) -> float:
        return 0.0 if self._fit_start is None else process_cpu_seconds() - self._cpu_start

    def on_fit_start(self, trainer, module) -> None:
        if self._resumed_state is not None:
            self._resume(self._resumed_state)
        self._resumed_state = None
        self.device = module.device
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._fit_start = time.perf_counter()
        self._cpu_start = process_cpu_seconds()
        self._rapl_start = rapl_joules()

    def on_fit_end(self, trainer, module) -> None:
        self.fit_seconds += self._running_fit_seconds()
        self.cpu_seconds += self._running_cpu_seconds()
        end = rapl_joules()
        if self._rapl_start is not None and end is not None and end >= self._rapl_start:
            self.rapl_joules = (self.rapl_joules or 0.0) + end - self._rapl_start
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
            "cpu_threads": torch.get_num_threads(),  # times depend on it as much as on the device
            "processes": self.processes,
            "resumed_from_step": self.resumed_from_step,
            "train_cpu_seconds": self.cpu_seconds,
            "energy": energy_estimate(self.cpu_seconds, self.rapl_joules, self.watts_per_cpu_core),
        }
