"""Machine translation: a pretrained multilingual model adapted to a language pair, scored by
BLEU, chrF and chrF++ on the in-domain test set and on other domains (`data.cross_domain`, e.g.
FLORES-200 for general text and TICO-19 for health).

Low data: `data.fraction` or `data.options.train_pairs` keeps a seeded subset of the training
pairs. `trainer.max_epochs=0` scores the model zero-shot (no training) through the same path.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipelines.prepared import PreparedPipeline
from pipelines.translation.backbones import build_translation_model
from pipelines.translation.corpora import TranslationSplits, load_translation_data, subsample_pairs
from pipelines.translation.datamodule import TranslationDataModule
from pipelines.translation.lightning_module import PeftTranslator
from pipelines.translation.prompts import DEFAULT_TEMPLATE
from shared.atomic import write_text_atomic
from shared.peft_module import IN_DOMAIN, EvaluationResult

SAMPLE_LINES = 10  # translations per test set shown in samples.md (all go to translations/)


def load_splits(config: DictConfig) -> tuple[TranslationSplits, TranslationSplits]:
    """The corpus with its out-of-domain tests: in full, and with the training pairs cut to the
    low-data setting."""
    data = config.data
    options = OmegaConf.to_container(data.options, resolve=True) or {}
    train_pairs = options.get("train_pairs")
    if "extra_tests" in options:
        raise ValueError(
            "data.options.extra_tests: name out-of-domain test sets under data.cross_domain "
            "instead, e.g. data.cross_domain={flores200: {}, tico19: {}}."
        )
    if data.k_shot is not None:
        raise ValueError(
            "data.k_shot counts examples per class, and translation has no classes; use "
            "data.options.train_pairs (a number of pairs) or data.fraction."
        )
    cross_domain = OmegaConf.to_container(data.cross_domain, resolve=True)
    for name, settings in cross_domain.items():
        if settings:
            raise ValueError(
                f"data.cross_domain.{name}: translation test sets take no options of their own "
                f"(got {settings}); data.options.max_test_pairs caps every test set."
            )
    full = load_translation_data(
        data.name, data.data_dir, seed=config.seed, extra_tests=list(cross_domain), **options
    )
    if train_pairs is None and data.fraction is None:
        return full, full
    train = subsample_pairs(full.train, count=train_pairs, fraction=data.fraction, seed=config.seed)
    return full, dataclasses.replace(full, train=train)


def write_translations(result: EvaluationResult, directory: Path, in_domain: str) -> None:
    """Every test translation as TSV per test set, and the first few per set in samples.md;
    the in-domain set ("test") is named after its corpus, `in_domain`."""
    lines = ["# Sample translations", ""]
    for set_name, scored in result.sets.items():
        name, samples = (in_domain if set_name == IN_DOMAIN else set_name), scored.predictions
        rows = ["source\treference\thypothesis"] + [
            "\t".join(s[key].replace("\t", " ") for key in ("source", "reference", "hypothesis"))
            for s in samples
        ]
        write_text_atomic(directory / "translations" / f"{name}.tsv", "\n".join(rows) + "\n")
        lines += [f"## {name}", ""]
        for sample in samples[:SAMPLE_LINES]:
            lines += [
                f"- source: {sample['source']}",
                f"  - reference: {sample['reference']}",
                f"  - hypothesis: {sample['hypothesis']}",
            ]
        lines.append("")
    write_text_atomic(directory / "samples.md", "\n".join(lines))


def prepare_translation(config: DictConfig) -> PreparedPipeline:
    """Load and check the pairs and the prompt, then build the model: all before training."""
    data, generation = config.data, config.generation
    full, splits = load_splits(config)
    backbone = build_translation_model(config.model.name)
    datamodule = TranslationDataModule(
        splits,
        backbone,
        prompt=data.options.get("prompt") or DEFAULT_TEMPLATE,
        max_source_tokens=config.model.max_length,
        max_target_tokens=generation.max_new_tokens,
        batch_size=data.batch_size,
        eval_batch_size=data.eval_batch_size,
        num_workers=data.num_workers,
    )
    make_module = functools.partial(
        PeftTranslator,
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        max_new_tokens=generation.max_new_tokens,
        num_beams=generation.num_beams,
        val_generation_limit=generation.val_sentences,
    )
    return PreparedPipeline(
        model=backbone.model,
        head_modules=[],
        datamodule=datamodule,
        train_size=len(splits.train),
        data_summary={
            "dataset": data.name,
            "direction": f"{splits.source_language}-{splits.target_language}",
            "architecture": backbone.architecture,
            "train_size_full": len(full.train),
            "train_size": len(splits.train),
            "val_size": len(splits.val),
            "test_sizes": {name: len(pairs) for name, pairs in splits.tests.items()},
            "fraction": data.fraction,
            "train_pairs": data.options.get("train_pairs"),
            **splits.notes,
        },
        make_module=make_module,
        write_outputs=functools.partial(write_translations, in_domain=data.name),
    )
