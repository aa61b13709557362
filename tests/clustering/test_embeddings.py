"""The encoder embeds each distinct text once and the disk cache serves later runs."""

import numpy as np

from clustering.embeddings import EmbeddingCache, Encoder, text_keys


def test_duplicates_are_embedded_once_and_vectors_are_unit(encoder):
    before = encoder.n_embedded
    vectors = encoder.encode(["colour black", "segment price range", "colour black"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert encoder.n_embedded - before == 2


def test_a_new_week_embeds_only_unseen_strings(tmp_path, encoder):
    first = Encoder(cache_dir=tmp_path)  # the model is loaded once per process
    week1 = first.encode(["colour black", "add brand filter", "show more sizes"])
    second = Encoder(cache_dir=tmp_path)
    week2 = second.encode(["show more sizes", "segment price range", "colour black"])
    assert (second.n_embedded, second.n_cached) == (1, 2)
    np.testing.assert_array_equal(week2[0], week1[2])
    np.testing.assert_array_equal(week2[2], week1[0])
    shards = sorted(p.name.split(".")[-2] for p in first.cache.folder.iterdir())
    assert shards == ["keys", "keys", "vectors", "vectors"] and not list(tmp_path.rglob("*.tmp"))


def test_cache_is_keyed_by_model(tmp_path):
    one = EmbeddingCache(tmp_path, "model-a")
    one.add(text_keys(["x"]), np.ones((1, 3), np.float32))
    found, _ = EmbeddingCache(tmp_path, "model-b").lookup(text_keys(["x"]))
    assert not found.any()
    found, vectors = EmbeddingCache(tmp_path, "model-a").lookup(text_keys(["y", "x"]))
    assert found.tolist() == [False, True] and vectors[1].tolist() == [1, 1, 1]
