"""Two-step PEFT through `peftsuite run`: a domain adapter from one run under a task adapter in
the next, with the proof in metrics.json; and the failure of Gema et al.'s released code (a
downstream adapter added but never activated) refused by the same proof."""

from __future__ import annotations

import json
from pathlib import Path

import peft
import pytest
from quiet_trainer import quiet_trainer
from tiny_models import random_text_batch, tiny_random_bert_classifier
from torch.utils.data import DataLoader
from toy_domain import register_parity_domain

from peftsuite.cli import main
from shared.inject import inject_method
from shared.lightning_module import PeftClassifier
from shared.stack_proof import StackProof
from shared.stacking import StackError

RUN = ["trainer.max_epochs=2", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]


def peftsuite_run(capsys, *overrides: str) -> Path:
    main(["run", *register_parity_domain(), "data.options.examples=60", *RUN, *overrides])
    return Path(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("domain", "task"),
    [("lora", "lora"), ("adapter_houlsby", "adapter_houlsby"), ("bitfit", "lora")],
)
def test_a_domain_adapter_run_stacks_under_a_task_adapter_run(capsys, tmp_path, domain, task):
    targets = "method.target_modules=[hidden]"
    domain_run = peftsuite_run(capsys, f"method={domain}", targets, f"run.output_dir={tmp_path}")
    task_run = peftsuite_run(
        capsys,
        f"method={task}",
        targets,
        "seed=1",
        f"stack.domain_adapters=[{domain_run}]",
        f"run.output_dir={tmp_path}",
    )
    stack = json.loads((task_run / "metrics.json").read_text())["stack"]
    [member] = stack["members"]
    assert (member["method"], member["file"]) == (domain, str(domain_run / "adapter.safetensors"))
    assert len(member["sha256"]) == 64 and member["parameters"] > 0
    proof = stack["proof"]
    assert proof["domain_members_active"][member["file"]] > 0
    assert proof["gradients"]["gradient_abs_sum"] > 0
    assert proof["gradients"]["tensors_with_gradient"] == proof["gradients"]["declared_trainable"]
    assert proof["task_member_active"] > 0
    assert not (task_run / "peft_adapter").exists()  # it would load without the domain adapter


def test_gema_et_al_s_inactive_downstream_adapter_is_refused(tmp_path):
    """Their code loads the clinical LoRA, then `add_adapter`s a downstream LoRA and never
    activates it: the downstream LoRA counts as trainable but never gets a gradient."""
    model, report = inject_method(tiny_random_bert_classifier(), {"name": "lora"})
    model.add_adapter("downstream", peft.LoraConfig(r=4, target_modules=["query", "value"]))
    # The peft they pinned marked an added adapter trainable, active or not; today's does not.
    for name, parameter in model.named_parameters():
        if "downstream" in name:
            parameter.requires_grad_(True)
    module = PeftClassifier(
        model, report, label_names=["a", "b", "c"], multilabel=False, learning_rate=1e-2
    )
    inputs, labels = random_text_batch()
    loader = DataLoader([{"inputs": inputs, "labels": labels}], batch_size=None)
    proof = StackProof([], module.batch_outputs, report.head_modules)
    trainer = quiet_trainer(
        max_steps=1,
        callbacks=[proof],
        default_root_dir=tmp_path,
    )
    with pytest.raises(StackError, match=r"missed \[.*downstream"):
        trainer.fit(module, train_dataloaders=loader)


def test_a_corrupt_domain_adapter_is_one_line_before_anything_loads(capsys, tmp_path):
    corrupt = tmp_path / "adapter.safetensors"
    corrupt.write_bytes(b"\0" * 16)
    with pytest.raises(SystemExit):
        peftsuite_run(capsys, f"stack.domain_adapters=[{corrupt}]", f"run.output_dir={tmp_path}")
    error = capsys.readouterr().err.strip()
    assert "stack.domain_adapters" in error and "\n" not in error
    assert not list(tmp_path.rglob("config.yaml"))


def test_a_trainable_domain_adapter_trains_at_its_own_rate_and_the_proof_says_so(capsys, tmp_path):
    targets = "method.target_modules=[hidden]"
    domain_run = peftsuite_run(capsys, "method=lora", targets, f"run.output_dir={tmp_path}")
    task_run = peftsuite_run(
        capsys,
        "method=lora",
        targets,
        f"stack.domain_adapters=[{domain_run}]",
        "stack.train_domain=true",
        "stack.domain_lr=0.003",
        f"run.output_dir={tmp_path}",
    )
    results = json.loads((task_run / "metrics.json").read_text())
    [member] = results["stack"]["members"]
    assert member["trainable"]
    gradients = results["stack"]["proof"]["gradients"]
    assert gradients["domain_gradient_abs_sum"][member["file"]] > 0
    assert gradients["tensors_with_gradient"] == gradients["declared_trainable"]
    frozen_run = peftsuite_run(
        capsys,
        "method=lora",
        targets,
        f"stack.domain_adapters=[{domain_run}]",
        f"run.output_dir={tmp_path}",
    )
    frozen = json.loads((frozen_run / "metrics.json").read_text())
    assert frozen_run != task_run  # training the domain adapter is another experiment
    assert results["costs"]["trainable_parameters"] == (
        frozen["costs"]["trainable_parameters"] + member["parameters"]
    )


def test_a_domain_rate_without_a_trainable_domain_adapter_is_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit):
        peftsuite_run(capsys, "stack.domain_lr=0.01", f"run.output_dir={tmp_path}")
    error = capsys.readouterr().err.strip()
    assert "stack.domain_lr=0.01" in error and "\n" not in error


def test_parameters_given_their_own_rate_leave_the_main_group():
    model, report = inject_method(tiny_random_bert_classifier(), {"name": "lora"})
    module = PeftClassifier(
        model, report, label_names=["a", "b", "c"], multilabel=False, learning_rate=1e-2
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    module.train_at_own_rate(trainable[:2], 3e-4)
    main_group, own_group = module.configure_optimizers().param_groups
    assert main_group["lr"] == 1e-2 and own_group["lr"] == 3e-4
    assert {id(p) for p in own_group["params"]} == {id(p) for p in trainable[:2]}
    assert len(main_group["params"]) == len(trainable) - 2
