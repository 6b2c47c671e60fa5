"""The prefix-feature store: rows keyed by input, written atomically, invalid data refused."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from shared.feature_cache import (
    STORE_FILE,
    FeatureStore,
    RefusedCacheWarning,
    _checksum,
    example_key,
    store_identity,
)

IDENTITY = store_identity("backbone", "EfficientNet", "global_pool|classifier", "0" * 32)


def keys_of(count: int, offset: int = 0) -> list[bytes]:
    return [bytes(example_key(np.array([index + offset]))) for index in range(count)]


def filled_store(root, count: int = 6) -> tuple[FeatureStore, torch.Tensor]:
    store = FeatureStore(IDENTITY, root)
    features = torch.randn(count, 5, generator=torch.Generator().manual_seed(0))
    store.add(keys_of(count), features)
    store.flush()
    return store, features


def test_example_keys_follow_values_dtype_and_shape_not_layout():
    image = torch.randn(3, 4, 4)
    assert torch.equal(example_key(image), example_key(image.clone()))
    assert example_key(image).shape == (16,) and example_key(image).dtype == torch.uint8
    as_channels_last = image[None].contiguous(memory_format=torch.channels_last)[0]
    assert torch.equal(example_key(as_channels_last), example_key(image))
    changed = image.clone()
    changed[0, 0, 0] += 1e-6
    assert not torch.equal(example_key(changed), example_key(image))
    assert not torch.equal(example_key(image.double()), example_key(image))
    assert not torch.equal(example_key(image.reshape(3, 16)), example_key(image))


def test_rows_survive_a_new_process_and_the_identity_names_the_store(tmp_path):
    store, features = filled_store(tmp_path)
    assert json.loads((store.folder / STORE_FILE).read_text()) == IDENTITY
    again = FeatureStore(IDENTITY, tmp_path)
    assert again.loaded == 6 and again.refused == 0
    rows = again.lookup(keys_of(6))
    torch.testing.assert_close(torch.stack(rows), features, rtol=0, atol=0)
    assert again.lookup(keys_of(2, offset=100)) == [None, None]
    other = FeatureStore({**IDENTITY, "weights": "1" * 32}, tmp_path)
    assert other.folder != store.folder and other.loaded == 0


def test_nothing_is_written_without_a_folder_or_new_rows(tmp_path):
    memory_only = FeatureStore(IDENTITY, None)
    memory_only.add(keys_of(2), torch.zeros(2, 3))
    assert memory_only.flush() is None and memory_only.lookup(keys_of(1))[0] is not None
    store, _ = filled_store(tmp_path)
    assert store.flush() is None
    assert len(list(store.folder.glob("shard-*"))) == 1


def test_a_shard_failing_its_checksum_is_refused_and_removed(tmp_path):
    store, _ = filled_store(tmp_path)
    shard = next(store.folder.glob("shard-*"))
    tensors = load_file(str(shard))
    tensors["features"][0, 0] += 1.0
    metadata = {"store": store.name, "checksum": "f" * 32}
    save_file(tensors, str(shard), metadata=metadata)
    with pytest.warns(RefusedCacheWarning, match="checksum"):
        again = FeatureStore(IDENTITY, tmp_path)
    assert again.loaded == 0 and again.refused == 1 and not shard.exists()


def test_an_unreadable_or_foreign_shard_is_refused(tmp_path):
    store, _ = filled_store(tmp_path)
    (store.folder / "shard-truncated.safetensors").write_bytes(b"\x08\x00")
    keys, features = torch.zeros(1, 16, dtype=torch.uint8), torch.zeros(1, 5)
    metadata = {"store": "another", "checksum": _checksum(keys, features)}
    save_file(
        {"keys": keys, "features": features},
        str(store.folder / "shard-x.safetensors"),
        metadata=metadata,
    )
    with pytest.warns(RefusedCacheWarning) as warned:
        again = FeatureStore(IDENTITY, tmp_path)
    reasons = " ".join(str(warning.message) for warning in warned)
    assert "does not read" in reasons and "belongs to store 'another'" in reasons
    assert again.loaded == 6 and again.refused == 2


def test_a_store_whose_identity_file_differs_is_refused_whole(tmp_path):
    store, _ = filled_store(tmp_path)
    (store.folder / STORE_FILE).write_text(json.dumps({**IDENTITY, "cut": "elsewhere"}))
    with pytest.warns(RefusedCacheWarning, match="describes another store"):
        again = FeatureStore(IDENTITY, tmp_path)
    assert again.loaded == 0 and not store.folder.exists()


def test_disk_rows_are_verified_once_and_a_mismatch_refuses_the_store(tmp_path):
    _, features = filled_store(tmp_path)
    good = FeatureStore(IDENTITY, tmp_path)
    keys = keys_of(6)
    assert good.needs_verification(keys) == list(range(6))
    assert good.verify(keys[:2], features[:2] + 1e-6)
    assert good.needs_verification(keys) == []

    stale = FeatureStore(IDENTITY, tmp_path)
    with pytest.warns(RefusedCacheWarning, match="differ from the stored"):
        assert not stale.verify(keys[:2], features[:2] + 0.5)
    assert stale.lookup(keys) == [None] * 6 and not stale.folder.exists()
    assert FeatureStore(IDENTITY, tmp_path).loaded == 0
