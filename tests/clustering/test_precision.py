"""The embedding precision guard: a lossy precision falls back to float32; the cache keys by precision."""

from __future__ import annotations

import numpy as np

from clustering.embeddings import MIN_COSINE, PROBE, SLOWER_OK, EmbeddingCache, Encoder, choose_precision, \
    cpu_has_bfloat16, load_model, model_encoder, text_keys


def lossy(encode, scale: float):
    """A deliberately lossy 'precision': float32 vectors with noise of ``scale`` added."""
    rng = np.random.default_rng(0)

    def run(texts):
        out = encode(texts) + rng.normal(0, scale, (len(texts), 384)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    return run


def test_a_precision_that_fails_the_probe_falls_back_to_float32():
    float32 = model_encoder(load_model(), 64)
    chosen, report = choose_precision(float32, {"lossy": lossy(float32, 0.05)}, PROBE[:32])
    assert chosen == "float32"
    assert report["lossy_min_cosine"] < MIN_COSINE and report["chosen"] == "float32"


def test_the_encoder_uses_float32_when_its_candidate_is_lossy(tmp_path):
    float32 = model_encoder(load_model(), 64)
    encoder = Encoder(cache_dir=tmp_path, precision="auto", candidates={"lossy": lossy(float32, 0.05)})
    vectors = encoder.encode(["colour black", "segment price range"])
    assert encoder.precision == "float32" and encoder.precision_report["chosen"] == "float32"
    np.testing.assert_allclose(vectors, float32(["colour black", "segment price range"]), atol=1e-6)
    assert encoder.cache.folder == EmbeddingCache(tmp_path, "", "float32").folder


def test_auto_precision_is_checked_against_float32_on_the_probe():
    encoder = Encoder(precision="auto")
    assert encoder.resolve() in ("float32", "bfloat16")
    report = encoder.precision_report
    if cpu_has_bfloat16():
        assert report["bfloat16_min_cosine"] > 0.9
        assert (encoder.precision == "bfloat16") == (report["bfloat16_min_cosine"] >= MIN_COSINE
                                                     and report["bfloat16_per_s"] >= SLOWER_OK * report["float32_per_s"])
    else:
        assert encoder.precision == "float32"
    if encoder.precision == "bfloat16":  # the chosen function really is within the bound on the probe
        probe = list(PROBE)
        got, ref = encoder.encode(probe), model_encoder(load_model(), 64)(probe)
        assert float((got * ref).sum(1).min()) >= MIN_COSINE


def test_forcing_float32_skips_the_probe():
    encoder = Encoder(precision="float32")
    assert encoder.resolve() == "float32" and encoder.precision_report["reason"] == "forced"


def test_cache_is_keyed_by_precision(tmp_path):
    EmbeddingCache(tmp_path, "", "bfloat16").add(text_keys(["x"]), np.ones((1, 3), np.float32))
    found, _ = EmbeddingCache(tmp_path, "", "float32").lookup(text_keys(["x"]))
    assert not found.any()
    found, vectors = EmbeddingCache(tmp_path, "", "bfloat16").lookup(text_keys(["x"]))
    assert found.all() and vectors[0].tolist() == [1, 1, 1]
    first = Encoder(cache_dir=tmp_path, precision="float32")
    first.encode(["colour black"])
    second = Encoder(cache_dir=tmp_path, precision="float32")
    second.encode(["colour black"])
    assert (second.n_cached, second.n_embedded) == (1, 0)


def test_bfloat16_runs_under_autocast_closer_to_float32_than_a_cast_model():
    """Layer norms, softmax and residual sums stay float32: a whole-model cast drifts further."""
    import copy

    import torch

    model, probe = load_model(), list(PROBE)
    reference = model_encoder(model, 64)(probe)
    mixed = model_encoder(model, 64, "bfloat16")(probe)
    cast = copy.deepcopy(model).to(torch.bfloat16).encode(probe, batch_size=64, convert_to_tensor=True)
    cast = cast.float().numpy()

    def drift(vectors):  # mean 1 - cosine to float32
        return float(1 - ((reference * vectors).sum(1) / np.linalg.norm(vectors, axis=1)).mean())

    assert next(model.parameters()).dtype == torch.float32  # the shared model is not cast
    assert drift(mixed) < drift(cast)


def test_bfloat16_weights_stored_once_give_the_vectors_of_plain_autocast():
    """Storing the linear weights in bfloat16 is only a saving: autocast on the float32 model
    computes the same products, so the vectors (and the cache's contents) are the same."""
    import torch

    model, probe = load_model(), list(PROBE)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = model.encode(probe, batch_size=64, convert_to_tensor=True).float().numpy()
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)
    stored = model_encoder(model, 64, "bfloat16")(probe)
    assert next(model.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(stored, plain)
