"""Sweeps: grids of runs, resumable, with fair learning rates, aggregated into reports."""
