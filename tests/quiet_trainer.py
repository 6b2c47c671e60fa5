"""A Lightning trainer for tests: CPU, no logger, checkpoints, progress bar or model summary."""

import lightning


def quiet_trainer(**settings) -> lightning.Trainer:
    """`lightning.Trainer` with the test defaults; `settings` add to them or override them."""
    defaults = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return lightning.Trainer(**(defaults | settings))
