"""Translation splits as Lightning data loaders: one training set, one validation set, and one
test loader per test set (in-domain first), each batch tokenised by `TranslationCollator`.

With `length_buckets`, training batches group pairs of similar length (seeded,
`shared.length_buckets`) and each test set is batched sorted by length, longest first; the
validation set keeps its file order, so `val_chrf` is always over the same first sentences.
"""

from __future__ import annotations

from torch.utils.data import DataLoader, Dataset

from pipelines.translation.backbones import TranslationBackbone
from pipelines.translation.collate import TranslationCollator
from pipelines.translation.corpora import TranslationSplits, language_name
from pipelines.translation.parallel_text import ParallelText
from pipelines.translation.prompts import DEFAULT_TEMPLATE, PromptTemplate
from shared.datamodule import SplitDataModule
from shared.length_buckets import LengthBucketBatchSampler, padding_share, plain_batches


class SentencePairs(Dataset):
    """The pairs of a `ParallelText` as `{"source", "target", "index"}` items; tokenised per
    batch. The index (the pair's place in the set) lets results return to the set's order."""

    def __init__(self, parallel: ParallelText) -> None:
        self.parallel = parallel

    def __len__(self) -> int:
        return len(self.parallel)

    def __getitem__(self, index: int) -> dict[str, str]:
        return {
            "source": self.parallel.sources[index],
            "target": self.parallel.targets[index],
            "index": index,
        }


class TranslationDataModule(SplitDataModule):
    """Serves `splits` to a `TranslationBackbone`; `test_dataloader` is a list, in test order.

    Args:
        prompt: the decoder-only prompt template (see `prompts.py`); checked here, before any
            training. Encoder-decoders read the source sentence as it is.
        max_source_tokens, max_target_tokens: truncation lengths (see `TranslationCollator`).
        source_prefix: before each source of an encoder-decoder (T5's task prefix).
        length_buckets: batch pairs of similar length (training: seeded with `seed`, pools of
            `bucket_batches` batches; test sets: sorted by length).
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
        source_prefix: str = "",
        length_buckets: bool = False,
        bucket_batches: int = 50,
        seed: int = 0,
    ) -> None:
        collator = TranslationCollator(
            tokenizer=backbone.tokenizer,
            architecture=backbone.architecture,
            prompt=PromptTemplate(prompt),
            source_language=language_name(splits.source_language),
            target_language=language_name(splits.target_language),
            max_source_tokens=max_source_tokens,
            max_target_tokens=max_target_tokens,
            source_prefix=source_prefix,
        )
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            collate_fn=collator,
            cross_domain=list(splits.tests)[1:],
        )
        self.splits = splits
        self.length_buckets = length_buckets
        self.bucket_batches = bucket_batches
        self.seed = seed
        self._lengths: dict[str, dict[str, list[int]]] = {}

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

    def lengths(self, split: str) -> dict[str, list[int]]:
        """Tokens per pair of a split, as batched (see `TranslationCollator.lengths`); counted
        once per split."""
        if split not in self._lengths:
            self.setup()
            dataset = self.datasets[split]
            pairs = [dataset[index] for index in range(len(dataset))]
            self._lengths[split] = self.collate_fn.lengths(pairs)
        return self._lengths[split]

    def loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        if not self.length_buckets or split == "val":
            return super().loader(split, batch_size, shuffle)
        return DataLoader(
            self.datasets[split],
            batch_sampler=self.batches(split, batch_size),
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            worker_init_fn=self.worker_init_fn,
        )

    def batches(self, split: str, batch_size: int) -> LengthBucketBatchSampler:
        """Length-bucketed batches: seeded pools for training, sorted order for a test set."""
        if split == "train":
            lengths = self.lengths(split)["training"]
            return LengthBucketBatchSampler(
                lengths, batch_size, seed=self.seed, pool_batches=self.bucket_batches
            )
        lengths = self.lengths(split)["generation"]
        return LengthBucketBatchSampler(lengths, batch_size, shuffle=False)

    def padding_shares(self) -> dict[str, dict[str, float]]:
        """Padding share of the training batches (first epoch) and of the in-domain test batches,
        in file order (random order for training) and length-bucketed."""
        train = self.lengths("train")["training"]
        test = self.lengths("test")["generation"]
        shuffled = plain_batches(len(train), self.batch_size, self.seed)
        return {
            "train": {
                "random": padding_share(train, shuffled),
                "length_buckets": padding_share(
                    train, self.batches("train", self.batch_size).batches()
                ),
            },
            "test": {
                "file_order": padding_share(test, plain_batches(len(test), self.eval_batch_size)),
                "length_buckets": padding_share(
                    test, self.batches("test", self.eval_batch_size).batches()
                ),
            },
        }
