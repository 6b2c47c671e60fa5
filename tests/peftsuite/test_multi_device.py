"""Multi-device training of one run goes through Lightning: a PEFT module (the toy parity
domain's, tiny and random) fits with two CPU processes over gloo, gradients synchronised, and
only the adapter and head move, identically in both processes."""

from __future__ import annotations

import lightning
import torch
from quiet_trainer import quiet_trainer
from torch.utils.data import DataLoader, TensorDataset
from toy_domain import ParityModule, TinyRandomParityMLP, random_bit_strings

from shared.inject import inject_method


class EqualWeightsAcrossRanks(lightning.Callback):
    """After training, every rank holds the same trainable tensors (DDP keeps them in sync)."""

    def on_train_end(self, trainer, module) -> None:
        for parameter in module.model.parameters():
            if parameter.requires_grad:
                copies = [torch.zeros_like(parameter) for _ in range(trainer.world_size)]
                torch.distributed.all_gather(copies, parameter.detach().contiguous())
                assert all(torch.equal(copies[0], copy) for copy in copies[1:])


def test_a_peft_module_fits_with_two_cpu_processes_over_gloo(tmp_path):
    model, report = inject_method(
        TinyRandomParityMLP(8),
        {"name": "lora", "target_modules": ["hidden"]},
        head_modules=["head"],
    )
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    module = ParityModule(model, report, threshold=0.5, learning_rate=1e-2)
    inputs, labels = random_bit_strings(8, seed=0, examples=64)
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=8)
    trainer = quiet_trainer(
        devices=2,
        strategy="ddp_spawn",
        max_epochs=1,
        callbacks=[EqualWeightsAcrossRanks()],
        default_root_dir=tmp_path,
    )
    trainer.fit(module, train_dataloaders=loader)
    assert trainer.world_size == 2 and trainer.strategy.cluster_environment.world_size() == 2
    for name, parameter in model.named_parameters():  # ddp_spawn copies weights back
        if name in frozen:
            assert torch.equal(parameter, frozen[name]), name
