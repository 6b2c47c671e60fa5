"""Domain text: a pretrained model learns a domain's writing, as a domain adapter.

`data.objective=masked` (encoders): the encoder gets a fresh masked-LM head whose output layer
is tied to the word embeddings (transformers' `AutoModelForMaskedLM`); only the head's transform
trains beside the method, and the tied output layer (the embedding matrix) stays frozen. The
run's `adapter.safetensors` is then a domain adapter for `stack.domain_adapters` in a clinical
text run: its head is dropped there and the method's tensors (e.g. LoRA on the attention) load
onto the classifier's encoder, whose modules have the same names.

`data.objective=causal` (decoders): the decoder built as the translation pipeline builds it
(Gemma-3-270M offline) learns next-token prediction on target-language text; its output layer is
tied and frozen, so only the method trains, and the adapter stacks under a translation run's
task adapter on the same model (a language adapter, as in MAD-X).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset
from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

from pipelines.clinical_text.backbone import OFFLINE_ENCODERS, resolve_encoder_path
from pipelines.domain_text.language_model import CausalLanguageModule, MaskedLanguageModule
from pipelines.prepared import PreparedPipeline
from pipelines.translation.backbones import build_translation_model
from shared.datamodule import SplitDataModule
from shared.datasets import checked_options, get_dataset

PIPELINE = "domain_text"
HEAD = ["cls.predictions.transform"]  # the tied output layer is the embedding matrix: frozen


class Texts(Dataset):
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> str:
        return self.texts[index]


class MaskingCollator:
    """Tokenise a batch of texts, then mask it: seeded for evaluation, from the global RNG (seeded
    by the run) in training."""

    def __init__(self, tokenizer, max_length: int, rate: float, whole_word: bool, seed=None):
        self.tokenizer, self.max_length = tokenizer, max_length
        self.mask = DataCollatorForLanguageModeling(
            tokenizer, mlm_probability=rate, whole_word_mask=whole_word, seed=seed
        )

    def __call__(self, texts: list[str]) -> dict:
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            return_special_tokens_mask=True,
            return_offsets_mapping=self.mask.whole_word_mask,
        )
        rows = zip(*encoded.values(), strict=True)
        features = [dict(zip(encoded, values, strict=True)) for values in rows]
        return dict(self.mask(features))


class CausalCollator:
    """Tokenise a batch of texts for next-token training: labels are the ids, padding ignored."""

    def __init__(self, tokenizer, max_length: int) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length
        self.pad = DataCollatorForLanguageModeling(tokenizer, mlm=False)

    def __call__(self, texts: list[str]) -> dict:
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        rows = zip(*encoded.values(), strict=True)
        return dict(self.pad([dict(zip(encoded, values, strict=True)) for values in rows]))


class DomainTextDataModule(SplitDataModule):
    def __init__(self, splits, training: MaskingCollator, evaluation: MaskingCollator, data):
        super().__init__(
            batch_size=data.batch_size,
            eval_batch_size=data.eval_batch_size,
            num_workers=data.num_workers,
            collate_fn=training,
        )
        self.splits, self.evaluation = splits, evaluation

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val", "test"):
            self.datasets[split] = Texts(getattr(self.splits, split))

    def loader(self, split: str, batch_size: int, shuffle: bool):
        loader = super().loader(split, batch_size, shuffle)
        if split != "train":
            loader.collate_fn = self.evaluation
        return loader


def build_masked_lm(name: str):
    path = resolve_encoder_path(name)
    local_only = name in OFFLINE_ENCODERS
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
        model = AutoModelForMaskedLM.from_pretrained(path, local_files_only=local_only)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"model.name={name!r}: cannot load it as a masked LM ({error}); a decoder-only model "
            "takes data.objective=causal"
        ) from error
    model.tie_weights()
    return model, tokenizer


def build_causal_lm(name: str):
    backbone = build_translation_model(name)
    if backbone.architecture != "causal":
        raise ValueError(
            f"model.name={name!r} is an encoder-decoder; data.objective=causal needs a "
            "decoder-only model (offline: gemma3_270m)"
        )
    return backbone.model, backbone.tokenizer


def prepare_domain_text(config: DictConfig) -> PreparedPipeline:
    data = config.data
    dataset = get_dataset(data.name, PIPELINE)
    options = checked_options(dataset, OmegaConf.to_container(data.options, resolve=True))
    splits = dataset.loader(data.data_dir, config.seed, **options)
    if data.fraction is not None or data.k_shot is not None:
        raise ValueError("data.fraction and data.k_shot: domain text trains on all its texts")
    summary = {
        "dataset": data.name,
        "objective": data.objective,
        "train_texts": len(splits.train),
        "val_texts": len(splits.val),
        "test_texts": len(splits.test),
    }
    if data.objective == "causal":
        model, tokenizer = build_causal_lm(config.model.name)
        collator = CausalCollator(tokenizer, config.model.max_length)
        datamodule = DomainTextDataModule(splits, collator, collator, data)
        head, module = [], CausalLanguageModule
    else:
        model, tokenizer = build_masked_lm(config.model.name)
        masking = (config.model.max_length, data.mask_rate, data.whole_word_masking)
        datamodule = DomainTextDataModule(
            splits,
            MaskingCollator(tokenizer, *masking),
            MaskingCollator(tokenizer, *masking, seed=config.seed),
            data,
        )
        head, module = HEAD, MaskedLanguageModule
        summary |= {"mask_rate": data.mask_rate, "whole_word_masking": data.whole_word_masking}
    return PreparedPipeline(
        model=model,
        head_modules=head,
        datamodule=datamodule,
        train_size=len(splits.train),
        data_summary=summary,
        make_module=module,
        write_outputs=lambda result, directory: None,
    )
