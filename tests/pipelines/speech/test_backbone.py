"""Tests for the speech backbones: Whisper cut to the window, wav2vec2-style encoders as they are.

Models are tiny and random; the Hugging Face loading path is exercised on folders saved here,
since tests cannot reach the hub.
"""

import pytest
import torch
from tiny_models import (
    method_mapping,
    random_waveform_batch,
    tiny_random_hubert_classifier,
    tiny_random_wav2vec2_classifier,
    tiny_random_whisper_classifier,
    train_steps,
)
from transformers import (
    Wav2Vec2FeatureExtractor,
    WhisperFeatureExtractor,
    WhisperForAudioClassification,
)

from pipelines.speech.backbone import audio_backbone, build_audio_classifier
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WAV2VEC2_STYLE = {
    "wav2vec2": tiny_random_wav2vec2_classifier,
    "hubert": tiny_random_hubert_classifier,
}


def test_wav2vec2_backbone_takes_the_window_as_it_is():
    model = tiny_random_wav2vec2_classifier()
    extractor = Wav2Vec2FeatureExtractor()
    backbone = audio_backbone(model, extractor, window_seconds=2.5)
    assert backbone.model is model and backbone.feature_extractor is extractor
    assert backbone.head_modules == ["projector", "classifier"]
    assert backbone.window_seconds == 2.5


def test_whisper_backbone_is_cut_to_the_window():
    backbone = audio_backbone(
        tiny_random_whisper_classifier(), WhisperFeatureExtractor(feature_size=8), 0.2
    )
    assert backbone.model.config.max_source_positions == 10  # 20 frames, halved
    assert backbone.model.encoder.embed_positions.num_embeddings == 10


def test_a_saved_wav2vec2_folder_loads_through_the_auto_classes(tmp_path):
    tiny_random_wav2vec2_classifier().save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(tmp_path)
    backbone = build_audio_classifier(str(tmp_path), num_labels=10, window_seconds=1.0)
    assert type(backbone.model).__name__ == "Wav2Vec2ForSequenceClassification"
    assert backbone.model.classifier.out_features == 10
    assert isinstance(backbone.feature_extractor, Wav2Vec2FeatureExtractor)
    assert backbone.feature_extractor.return_attention_mask


def test_a_saved_whisper_folder_keeps_the_whisper_path(tmp_path):
    tiny_random_whisper_classifier().save_pretrained(tmp_path)
    WhisperFeatureExtractor(feature_size=8).save_pretrained(tmp_path)
    backbone = build_audio_classifier(str(tmp_path), num_labels=10, window_seconds=0.2)
    assert isinstance(backbone.model, WhisperForAudioClassification)
    assert isinstance(backbone.feature_extractor, WhisperFeatureExtractor)
    assert backbone.model.config.max_source_positions == 10


def test_an_unloadable_name_names_model_name(tmp_path):
    with pytest.raises(ValueError, match=r"model\.name=.*cannot load it as an audio classifier"):
        build_audio_classifier(str(tmp_path / "missing"), num_labels=3, window_seconds=1.0)


@pytest.mark.parametrize("encoder", sorted(WAV2VEC2_STYLE))
@pytest.mark.parametrize("method", ["lora", "bitfit", "adapter_houlsby"])
def test_methods_train_only_their_parameters_and_leave_the_convolutions_frozen(encoder, method):
    model, report = inject_method(WAV2VEC2_STYLE[encoder](), method_mapping(method))
    assert report.family == "wav2vec2_encoder"
    assert report.head_modules == ["projector", "classifier"]
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    in_feature_encoder = {name for name in trainable if ".feature_extractor." in name}
    # BitFit trains every bias, the feature encoder's GroupNorm's too; no convolution trains.
    assert all(name.endswith("layer_norm.bias") for name in in_feature_encoder)
    assert method == "bitfit" or not in_feature_encoder
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    train_steps(model, random_waveform_batch())

    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert not moved - trainable, "frozen parameters changed"
    assert not trainable - moved, "trainable parameters did not move in two steps"
    assert any("encoder.layers" in name for name in moved), "no method parameter moved"
