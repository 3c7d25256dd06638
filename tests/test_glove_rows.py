"""GloVe rows for the sample language model's vocabulary (coursesamples.glove), the start of its embedding."""
import numpy as np
import torch

from coursesamples import glove


def test_each_token_gets_its_own_words_row_and_unknown_tokens_get_zeros():
    table = np.arange(12, dtype=np.float64).reshape(4, 3)
    vectors, found = glove.rows_for(["film", "xxmaj", "the", "film", "gripping"],
                                    words=["the", "a", "film", "gripping"], table=table)
    assert found.tolist() == [True, False, True, True, True]
    assert vectors.dtype == torch.float32 and vectors.shape == (5, 3)
    assert vectors.tolist() == [[6, 7, 8], [0, 0, 0], [0, 1, 2], [6, 7, 8], [9, 10, 11]]


def test_a_vocabulary_with_no_known_token_is_all_zeros():
    vectors, found = glove.rows_for(["xxbos", "xxpad"], words=["the"], table=np.ones((1, 2)))
    assert not found.any() and torch.equal(vectors, torch.zeros(2, 2))


def test_glove_rows_reads_the_pinned_vectors_and_words(monkeypatch, tmp_path):
    np.save(tmp_path / "vectors.npy", np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    asked = []

    def fake_packaged_file(source):
        asked.append(source)
        return tmp_path / "vectors.npy"

    monkeypatch.setattr(glove, "packaged_file", fake_packaged_file)
    monkeypatch.setattr(glove, "glove_words", lambda: ["good", "bad"])
    vectors, found = glove.glove_rows(["bad", "meh"])
    assert asked == [glove.GLOVE_VECTORS]
    assert vectors.tolist() == [[3.0, 4.0], [0.0, 0.0]] and found.tolist() == [True, False]

