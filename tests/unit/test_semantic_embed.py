"""The semantic index's embedding: each distinct word tokenized once, the mean over a text's own
tokens — the model's own vectors (``WordLlama.embed``) for real catalogue texts, to within a
cosine of 0.999, without its per-text tokenizing and padding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.catalogue import semantic

SNAPSHOT = "catalogue/lds_export_snapshot.json"


@pytest.fixture(scope="module")
def embedder():
    e = semantic.Embedder()
    if not e.available():
        pytest.fail(f"the embedding model does not load: {e._failed}")
    return e


def test_vectors_are_the_models_own_for_real_catalogue_texts(embedder, data_dir):
    records = json.loads((data_dir / SNAPSHOT).read_text(encoding="utf-8"))
    texts = [semantic.entry_text(r.get("title") or "", [], r.get("description") or "")
             for r in records[:400]]
    texts += ["average property prices", "polution", "two  spaces ", "£5 café — naïve"]
    ours = embedder.embed(texts)
    model = np.asarray(embedder._load().embed(texts, norm=True), dtype=np.float32)
    cosine = (ours * model).sum(axis=1)
    assert ours.shape == (len(texts), semantic.DIM) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    # (not bit for bit: a run of spaces or a word joined to the next by the tokenizer differs a
    # little; the median cosine on the catalogue is 0.9998)
    assert np.median(cosine) > 0.999 and cosine.min() > 0.95, (np.median(cosine), cosine.min())
    # the same text gives the same vector whether its words were seen before or not
    again = semantic.Embedder().embed(texts[::-1])[::-1]
    assert np.allclose(again, ours, atol=1e-5)


def test_empty_texts_are_zero_vectors_and_the_word_cache_is_bounded(embedder, monkeypatch):
    out = embedder.embed(["", "air quality", ""])
    assert not out[0].any() and not out[2].any() and out[1].any()
    assert embedder.embed([]).shape == (0, semantic.DIM)
    small = semantic.Embedder()
    monkeypatch.setattr(semantic.Embedder, "MAX_WORDS_CACHED", 50)
    small.embed(["alpha beta"])
    assert "alpha" in small._word_row
    many = [f"word{i} river thames" for i in range(200)]
    vectors = small.embed(many)
    assert "alpha" not in small._word_row   # emptied when it would pass the cap
    assert np.allclose(vectors, embedder.embed(many), atol=1e-5)
