"""Repetition controls against greedy decoding, on the same sentences with the same adapter.

Loads a finished translation run (its resolved `config.yaml` and `adapter.safetensors`, e.g. the
LoRA run of `benchmarks.mafand_translation`), rebuilds its pipeline exactly (same splits, same
trimmed vocabulary, same batches), restores the adapter, and translates the first `--sentences`
sentences of each test set once per decoding setting: greedy (what the run reported), greedy
with `generation.no_repeat_ngram_size`, and with `generation.repetition_penalty`. Reports BLEU,
chrF and how repetitive the translations are: the share of translations with a word 3-gram that
occurs twice, and the share of repeated word 3-grams over all. Writes `<stem>.md`.

    python -m benchmarks.mafand_generation runs/benchmarks/translation/mafand/lora-<hash>
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from benchmarks.tables import Column, markdown_table, print_table
from pipelines.registry import prepare_pipeline
from pipelines.translation.lightning_module import PeftTranslator
from shared.atomic import write_text_atomic
from shared.checkpoint import restore_adapter

COLUMNS = (
    Column("decoding", "setting", numeric=False),
    Column("test set", "test_set", numeric=False),
    Column("BLEU", "bleu", "{:.2f}"),
    Column("chrF", "chrf", "{:.2f}"),
    Column("chrF vs greedy", "chrf_gain", "{:+.2f}"),
    Column("with a repeated 3-gram", "repeating", "{:.1%}"),
    Column("repeated 3-grams", "repeated", "{:.1%}"),
    Column("mean words", "words", "{:.1f}"),
    Column("s", "seconds", "{:.0f}"),
)


def repetition(hypotheses: list[str], size: int = 3) -> dict[str, float]:
    """Share of translations repeating a word n-gram, and of repeated n-grams among all."""
    repeating = repeated = total = 0
    for text in hypotheses:
        words = text.split()
        grams = [tuple(words[i : i + size]) for i in range(len(words) - size + 1)]
        extra = len(grams) - len(set(grams))
        repeating += extra > 0
        repeated += extra
        total += len(grams)
    count = max(len(hypotheses), 1)
    words = sum(len(text.split()) for text in hypotheses) / count
    return {"repeating": repeating / count, "repeated": repeated / max(total, 1), "words": words}


def settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {
        "greedy": {},
        f"no_repeat_ngram_size={args.ngram}": {"no_repeat_ngram_size": args.ngram},
        f"repetition_penalty={args.penalty}": {"repetition_penalty": args.penalty},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished translation run directory")
    parser.add_argument("--sentences", type=int, default=100, help="per test set")
    parser.add_argument("--ngram", type=int, default=3)
    parser.add_argument("--penalty", type=float, default=1.2)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--stem", default="mafand_eng_hau_generation")
    args = parser.parse_args()

    config = OmegaConf.load(args.run / "config.yaml")
    prepared = prepare_pipeline(config)
    model, report = restore_adapter(prepared.model, args.run / "adapter.safetensors")
    model.eval()
    data = prepared.datamodule
    data.setup()
    generation, backbone_tokenizer = config.generation, data.collate_fn.tokenizer
    rows, greedy_chrf = [], {}
    for setting, options in settings(args).items():
        translator = PeftTranslator(
            model,
            report,
            tokenizer=backbone_tokenizer,
            architecture=prepared.data_summary["architecture"],
            learning_rate=1e-4,
            max_new_tokens=generation.max_new_tokens,
            num_beams=generation.num_beams,
            **options,
        )
        for name, loader in zip(data.test_set_names(), data.test_dataloader(), strict=True):
            started, outputs = time.perf_counter(), []
            wanted = set(range(args.sentences))
            with torch.no_grad():
                for batch in loader:
                    keep = [i for i, index in enumerate(batch["indices"]) if index in wanted]
                    if keep:
                        outputs.append(translator.test_outputs(subset(batch, keep)))
            scored = translator.score_test_set(name, outputs).metrics
            hypotheses = [s["hypothesis"] for o in outputs for s in o["samples"]]
            greedy_chrf.setdefault(name, scored["chrf"])
            rows.append(
                {
                    "setting": setting,
                    "test_set": config.data.name if name == "test" else name,
                    "bleu": scored["bleu"],
                    "chrf": scored["chrf"],
                    "chrf_gain": scored["chrf"] - greedy_chrf[name],
                    "seconds": time.perf_counter() - started,
                    **repetition(hypotheses),
                }
            )
            print_table(setting, COLUMNS, rows[-1:])
    lines = [
        "# Repetition controls against greedy decoding (MAFAND-MT eng->hau, Gemma-3-270M)",
        "",
        f"Written by `python -m benchmarks.mafand_generation {' '.join(sys.argv[1:])}`. The "
        f"adapter of `{args.run.name}` ({report.method}, "
        f"{prepared.data_summary['train_size']} training pairs), the first {args.sentences} "
        "sentences of each test set (the run's fixed subsets), each decoding setting on the "
        "same sentences. Repetition is over whitespace-separated words.",
        "",
        *markdown_table(COLUMNS, rows),
        "",
    ]
    write_text_atomic((args.output / args.stem).with_suffix(".md"), "\n".join(lines))
    print((args.output / args.stem).with_suffix(".md"))


def subset(batch: dict[str, Any], keep: list[int]) -> dict[str, Any]:
    """The rows `keep` of a collated batch (texts, indices and tensors alike)."""
    picked: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, dict):
            picked[key] = {name: tensor[keep] for name, tensor in value.items()}
        else:
            picked[key] = [value[i] for i in keep]
    return picked


if __name__ == "__main__":
    main()
