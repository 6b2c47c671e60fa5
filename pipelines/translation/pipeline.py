"""Machine translation: a pretrained multilingual model adapted to a language pair, scored by
BLEU, chrF and chrF++ on the in-domain test set and on other domains (`data.cross_domain`, e.g.
FLORES-200 for general text and TICO-19 for health).

Low data: `data.fraction` or `data.options.train_pairs` keeps a seeded subset of the training
pairs. `trainer.max_epochs=0` scores the model zero-shot (no training) through the same path.

`vocabulary.trim=true` trims the output layer to the language pair's tokens before the method is
injected (`vocabulary.py`; the kept tokens, where they came from and each test set's coverage go
into metrics.json). mBART and NLLB get their language codes, T5 its task prefix
(`language_codes.py`); `batching.length_buckets` groups pairs of similar length.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipelines.prepared import PreparedPipeline
from pipelines.translation.backbones import TranslationBackbone, build_translation_model
from pipelines.translation.corpora import TranslationSplits, load_translation_data, subsample_pairs
from pipelines.translation.datamodule import TranslationDataModule
from pipelines.translation.language_codes import set_up_languages
from pipelines.translation.lightning_module import PeftTranslator
from pipelines.translation.monolingual import monolingual_sample
from pipelines.translation.prompts import DEFAULT_TEMPLATE
from pipelines.translation.vocabulary import (
    OutputVocabulary,
    build_output_vocabulary,
    byte_token_ids,
    trim_output_layer,
)
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


def output_vocabulary(
    config: DictConfig,
    splits: TranslationSplits,
    backbone: TranslationBackbone,
    datamodule: TranslationDataModule,
    forced_bos_token_id: int | None,
) -> tuple[OutputVocabulary, dict[str, object]]:
    """The trimmed output vocabulary of `config.vocabulary`, and its summary for metrics.json
    (with the coverage of each test set's reference tokens, "test" in domain)."""
    settings, tokenizer, collator = config.vocabulary, backbone.tokenizer, datamodule.collate_fn
    specials = {*tokenizer.all_special_ids, forced_bos_token_id}
    specials |= {getattr(backbone.model.config, "decoder_start_token_id", None)}
    if backbone.architecture == "causal":  # generation stops at a line break
        specials |= set(tokenizer("\n", add_special_tokens=False)["input_ids"])
    if settings.keep_byte_tokens:
        specials |= byte_token_ids(tokenizer)
    required = {
        "special tokens": [sorted(token for token in specials if token is not None)],
        "training targets": collator.target_token_ids(splits.train.targets),
        "validation targets": collator.target_token_ids(splits.val.targets),
    }
    sample, offered = [], {}
    if settings.monolingual_sentences:
        found = monolingual_sample(
            splits,
            config.data.data_dir,
            count=settings.monolingual_sentences,
            seed=config.seed,
            skip_corpora=list(config.data.cross_domain),
        )
        sample, offered = found.sentences, found.offered
    vocabulary = build_output_vocabulary(
        full_size=backbone.model.get_output_embeddings().weight.shape[0],
        required=required,
        monolingual=collator.target_token_ids(sample),
        max_size=settings.max_size,
    )
    names = ["test", *list(splits.tests)[1:]]
    coverage = {
        name: vocabulary.coverage(collator.target_token_ids(pairs.targets))
        for name, pairs in zip(names, splits.tests.values(), strict=True)
    }
    summary = {
        **vocabulary.summary(),
        "monolingual_sentences": len(sample),
        "monolingual_offered": offered,
        "test_reference_coverage": coverage,
    }
    return vocabulary, summary


def prepare_translation(config: DictConfig) -> PreparedPipeline:
    """Load and check the pairs and the prompt, then build the model: all before training."""
    data, generation, batching = config.data, config.generation, config.batching
    full, splits = load_splits(config)
    backbone = build_translation_model(config.model.name)
    languages = set_up_languages(
        backbone, splits.source_language, splits.target_language, config.model.name
    )
    datamodule = TranslationDataModule(
        splits,
        backbone,
        prompt=data.options.get("prompt") or DEFAULT_TEMPLATE,
        max_source_tokens=config.model.max_length,
        max_target_tokens=generation.max_new_tokens,
        batch_size=data.batch_size,
        eval_batch_size=data.eval_batch_size,
        num_workers=data.num_workers,
        source_prefix=languages.source_prefix,
        length_buckets=batching.length_buckets,
        bucket_batches=batching.bucket_batches,
        seed=config.seed,
    )
    summary: dict[str, object] = {}
    if config.vocabulary.trim:
        vocabulary, summary["vocabulary"] = output_vocabulary(
            config, splits, backbone, datamodule, languages.forced_bos_token_id
        )
        trim_output_layer(backbone.model, vocabulary)
    if batching.length_buckets:
        summary["padding_share"] = datamodule.padding_shares()
    make_module = functools.partial(
        PeftTranslator,
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        max_new_tokens=generation.max_new_tokens,
        num_beams=generation.num_beams,
        val_generation_limit=generation.val_sentences,
        no_repeat_ngram_size=generation.no_repeat_ngram_size,
        repetition_penalty=generation.repetition_penalty,
        forced_bos_token_id=languages.forced_bos_token_id,
        vocabulary_coverage=summary.get("vocabulary", {}).get("test_reference_coverage"),
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
            "language_codes": [languages.source_code, languages.target_code],
            "source_prefix": languages.source_prefix,
            **summary,
            **splits.notes,
        },
        make_module=make_module,
        write_outputs=functools.partial(write_translations, in_domain=data.name),
    )
