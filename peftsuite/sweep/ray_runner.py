"""Sweep cells as Ray tasks: one `peftsuite run` process per task, with its CPU/GPU request.

The sweep folder must be on storage every node sees, at the same path (results, logs and
checkpoints are written there by the task, as in a local sweep); each task runs in the folder the
sweep was started from, so relative paths in the sweep file mean what they mean locally, and
uses as many threads as the CPUs it asked for. `address="local"` starts a Ray instance on this
machine (what the tests use); "auto" joins the cluster this machine belongs to; anything else is
a cluster address, e.g. ray://head:10001.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from peftsuite.sweep.execute import CellRunner, run_cell_process


def ray_runner(address: str, *, cpus: float = 1.0, gpus: float = 0.0) -> CellRunner:
    import ray

    if not ray.is_initialized():
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    remote_cell = ray.remote(num_cpus=cpus, num_gpus=gpus)(run_cell_process)
    threads = max(1, int(cpus))  # each cell uses the cores it asked for, no more

    def run(jobs: list[tuple[list[str], Path]]) -> Iterator[tuple[int, int, str]]:
        """All cells at once; Ray schedules them by their requests. Results as they finish."""
        futures = {
            remote_cell.remote(overrides, log.absolute(), threads, Path.cwd()): i
            for i, (overrides, log) in enumerate(jobs)
        }
        waiting = list(futures)
        while waiting:
            [finished], waiting = ray.wait(waiting, num_returns=1)
            yield (futures[finished], *ray.get(finished))

    return run
