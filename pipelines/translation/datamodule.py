"""Translation splits as Lightning data loaders: one training set, one validation set, and one
test loader per test set (in-domain first), each batch tokenised by `TranslationCollator`."""

from __future__ import annotations

from torch.utils.data import Dataset

from pipelines.translation.backbones import TranslationBackbone
from pipelines.translation.collate import TranslationCollator
from pipelines.translation.corpora import TranslationSplits, language_name
from pipelines.translation.parallel_text import ParallelText
from pipelines.translation.prompts import DEFAULT_TEMPLATE, PromptTemplate
from shared.datamodule import SplitDataModule


class SentencePairs(Dataset):
    """The pairs of a `ParallelText` as `{"source", "target"}` items; tokenised per batch."""

    def __init__(self, parallel: ParallelText) -> None:
        self.parallel = parallel

    def __len__(self) -> int:
        return len(self.parallel)

    def __getitem__(self, index: int) -> dict[str, str]:
        return {"source": self.parallel.sources[index], "target": self.parallel.targets[index]}


class TranslationDataModule(SplitDataModule):
    """Serves `splits` to a `TranslationBackbone`; `test_dataloader` is a list, in test order.

    Args:
        prompt: the decoder-only prompt template (see `prompts.py`); checked here, before any
            training. Encoder-decoders read the source sentence as it is.
        max_source_tokens, max_target_tokens: truncation lengths (see `TranslationCollator`).
    """

    def __init__(
        self,
        splits: TranslationSplits,
        backbone: TranslationBackbone,
        *,
        prompt: str = DEFAULT_TEMPLATE,
        max_source_tokens: int,
        max_target_tokens: int,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int = 0,
    ) -> None:
        collator = TranslationCollator(
            tokenizer=backbone.tokenizer,
            architecture=backbone.architecture,
            prompt=PromptTemplate(prompt),
            source_language=language_name(splits.source_language),
            target_language=language_name(splits.target_language),
            max_source_tokens=max_source_tokens,
            max_target_tokens=max_target_tokens,
        )
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            collate_fn=collator,
            cross_domain=list(splits.tests)[1:],
        )
        self.splits = splits

    def setup(self, stage: str | None = None) -> None:
        """The in-domain test set is "test"; the others follow as cross-domain test sets."""
        if self.datasets:
            return
        (_, in_domain), *others = self.splits.tests.items()
        self.datasets = {
            "train": SentencePairs(self.splits.train),
            "val": SentencePairs(self.splits.val),
            "test": SentencePairs(in_domain),
            **{name: SentencePairs(pairs) for name, pairs in others},
        }
