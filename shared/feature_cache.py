"""A store of frozen-prefix features, one row per example, kept in memory and on disk.

When every trainable tensor sits above a frozen prefix (`shared.frozen_prefix`), the prefix maps
an example to the same features every epoch and in every run that shares it (a grid's learning
rates, seeds and data fractions). The store keeps those features so each is computed once.

Keys. A store is named by the digest of its identity: the backbone's name and class, the cut,
the digest of every prefix tensor, and the versions of the libraries that run the forward. A
row is keyed by the digest of the example exactly as the prefix receives it (the transformed
image tensor, the token ids), so any change in the input pipeline (size, normalisation,
tokenizer, truncation) gives new keys and nothing of the old pipeline is reused.

On disk. `<cache_root()>/prefix_features/<store digest>/` holds `store.json` (the identity) and
shards, each a safetensors file of keys and features written atomically, with a checksum of
both in its metadata. Invalid data is refused, never used: a `store.json` whose identity is not
this store's removes the store; a shard that does not read, names another store, fails its
checksum or has rows of the wrong shape is removed; and the first batch served from disk is
recomputed and compared (`verify`), so a store made stale by something its identity misses is
removed too. Each refusal warns with `RefusedCacheWarning`, then the features are recomputed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from shared.atomic import atomic_path, write_json_atomic

# Batch entries: each example's key, and the features standing in for the model's inputs.
EXAMPLE_KEYS = "example_keys"
PREFIX_FEATURES = "prefix_features"
FORMAT_VERSION = 1
STORE_FOLDER = "prefix_features"
STORE_FILE = "store.json"
KEY_BYTES = 16
VERSIONED_PACKAGES = ("torch", "timm", "transformers", "monai", "peft")
VERIFY_TOLERANCE = {"rtol": 1e-3, "atol": 1e-4}


class RefusedCacheWarning(UserWarning):
    """Cached features were found invalid and are not used (they are recomputed)."""


def digest_of_arrays(arrays: Iterable[np.ndarray | torch.Tensor]) -> bytes:
    """A 16-byte digest of arrays' dtypes, shapes and values (memory layout aside)."""
    digest = hashlib.blake2b(digest_size=KEY_BYTES)
    for array in arrays:
        if isinstance(array, torch.Tensor):
            array = array.detach().cpu().contiguous().numpy()
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.digest()


def example_key(*arrays: np.ndarray | torch.Tensor) -> torch.Tensor:
    """One example's key as a (16,) uint8 tensor, so a data loader can batch it."""
    return torch.frombuffer(bytearray(digest_of_arrays(arrays)), dtype=torch.uint8)


def library_versions() -> dict[str, str]:
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


def store_identity(backbone: str, architecture: str, cut: str, weights: str) -> dict[str, Any]:
    """What a store's features depend on, besides each example's input."""
    return {
        "format": FORMAT_VERSION,
        "backbone": backbone,
        "architecture": architecture,
        "cut": cut,
        "weights": weights,
        "versions": library_versions(),
    }


def _checksum(keys: torch.Tensor, features: torch.Tensor) -> str:
    return digest_of_arrays([keys, features]).hex()


class FeatureStore:
    """Features by example key, in memory, optionally backed by a folder (see the module doc).

    Statistics (`computed`, `reused`, `loaded`, `refused`) say what happened, for tests and logs.
    """

    def __init__(self, identity: dict[str, Any], root: str | Path | None) -> None:
        self.identity = identity
        self.name = hashlib.blake2b(
            json.dumps(identity, sort_keys=True).encode(), digest_size=KEY_BYTES
        ).hexdigest()
        self.folder = Path(root) / STORE_FOLDER / self.name if root is not None else None
        self.rows: dict[bytes, torch.Tensor] = {}
        self.from_disk: set[bytes] = set()
        self.pending: dict[bytes, torch.Tensor] = {}
        self.verified = False
        self.computed = self.reused = self.loaded = self.refused = 0
        if self.folder is not None:
            self._load()

    def refuse(self, reason: str) -> None:
        """Drop everything read from disk, remove the folder, and say why."""
        warnings.warn(
            f"refusing cached prefix features in {self.folder}: {reason}; recomputing them",
            RefusedCacheWarning,
            stacklevel=2,
        )
        self.refused += 1
        for key in self.from_disk:
            self.rows.pop(key, None)
        self.from_disk.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.verified = True  # what is left was computed in this process

    def _load(self) -> None:
        store_file = self.folder / STORE_FILE
        if not store_file.exists():
            return
        try:
            identity = json.loads(store_file.read_text())
        except (OSError, ValueError) as error:
            identity = f"unreadable ({error})"
        if identity != self.identity:
            self.refuse(f"{STORE_FILE} describes another store: {identity}")
            return
        for shard in sorted(self.folder.glob("shard-*.safetensors")):
            reason = self._load_shard(shard)
            if reason is not None:
                warnings.warn(
                    f"refusing cached prefix features in {shard}: {reason}; removing the shard",
                    RefusedCacheWarning,
                    stacklevel=3,
                )
                self.refused += 1
                shard.unlink(missing_ok=True)

    def _load_shard(self, shard: Path) -> str | None:
        try:
            tensors = load_file(str(shard))
            with safe_open(str(shard), framework="pt") as handle:
                metadata = handle.metadata() or {}
        except (OSError, ValueError, SafetensorError) as error:
            return f"it does not read ({error})"
        keys, features = tensors.get("keys"), tensors.get("features")
        if keys is None or features is None or keys.shape != (len(features), KEY_BYTES):
            return "it lacks keys or features, or their counts differ"
        if metadata.get("store") != self.name:
            return f"it belongs to store {metadata.get('store')!r}"
        if metadata.get("checksum") != _checksum(keys, features):
            return "its checksum does not match its contents"
        for key, row in zip(keys.numpy(), features, strict=True):
            self.rows[key.tobytes()] = row
            self.from_disk.add(key.tobytes())
        self.loaded += len(keys)
        return None

    def lookup(self, keys: Sequence[bytes]) -> list[torch.Tensor | None]:
        rows = [self.rows.get(key) for key in keys]
        self.reused += sum(row is not None for row in rows)
        return rows

    def add(self, keys: Sequence[bytes], features: torch.Tensor) -> None:
        features = features.detach().cpu().contiguous()
        for key, row in zip(keys, features, strict=True):
            self.rows[key] = row
            self.pending[key] = row
        self.computed += len(keys)

    def needs_verification(self, keys: Sequence[bytes]) -> list[int]:
        """Positions of `keys` read from disk, while the store is not yet verified."""
        if self.verified:
            return []
        return [index for index, key in enumerate(keys) if key in self.from_disk]

    def verify(self, keys: Sequence[bytes], recomputed: torch.Tensor) -> bool:
        """Compare disk rows with the same examples recomputed now; a mismatch refuses the store."""
        stored = torch.stack([self.rows[key] for key in keys])
        recomputed = recomputed.detach().cpu()
        if stored.shape != recomputed.shape or not torch.allclose(
            stored, recomputed, **VERIFY_TOLERANCE
        ):
            self.refuse("rows recomputed now differ from the stored ones")
            return False
        self.verified = True
        return True

    def flush(self) -> Path | None:
        """Write the rows computed since the last flush, one shard per row shape; returns the
        last shard's path."""
        if self.folder is None or not self.pending:
            self.pending.clear()
            return None
        by_shape: dict[tuple[int, ...], dict[bytes, torch.Tensor]] = {}
        for key, row in self.pending.items():
            by_shape.setdefault(tuple(row.shape), {})[key] = row
        self.pending = {}
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / STORE_FILE).exists():
            write_json_atomic(self.folder / STORE_FILE, self.identity)
        written = None
        for rows in by_shape.values():
            written = self.write_shard(rows)
        return written

    def write_shard(self, rows: dict[bytes, torch.Tensor]) -> Path:
        """`rows` (of one shape) as one safetensors shard, written atomically."""
        keys = torch.stack([torch.frombuffer(bytearray(key), dtype=torch.uint8) for key in rows])
        features = torch.stack(list(rows.values()))
        checksum = _checksum(keys, features)
        path = self.folder / f"shard-{checksum[:16]}-{os.getpid()}.safetensors"
        with atomic_path(path) as temporary:
            save_file(
                {"keys": keys, "features": features},
                str(temporary),
                metadata={"store": self.name, "checksum": checksum},
            )
        return path
