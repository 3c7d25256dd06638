"""PPMI word vectors, the start of the sample language model's embedding (coursehelpers.text.embeddings)."""
import numpy as np
import torch

from coursehelpers.text.embeddings import cooccurrences, ppmi, ppmi_svd


def test_cooccurrences_count_pairs_within_the_window_both_ways_and_never_across_documents():
    counts = cooccurrences([torch.tensor([1, 2, 3]), torch.tensor([3, 4])], vocab_size=5, window=1).toarray()
    expected = np.zeros((5, 5))
    for i, j in ((1, 2), (2, 3), (3, 4)):
        expected[i, j] = expected[j, i] = 1
    np.testing.assert_array_equal(counts, expected)  # 1 and 3 are two apart; 2 and 4 are in different texts
    wide = cooccurrences([torch.tensor([1, 2, 3])], vocab_size=5, window=2).toarray()
    assert wide[1, 3] == wide[3, 1] == 1


def test_ppmi_keeps_pairs_seen_more_often_than_chance_and_drops_the_rest():
    counts = np.array([[0, 8, 1], [8, 0, 1], [1, 1, 8]], dtype=float)
    m = ppmi(counts, alpha=1.0).toarray()
    total, word = counts.sum(), counts.sum(1)
    assert np.isclose(m[0, 1], np.log(8 * total / (word[0] * word[1])))  # the plain PMI when alpha = 1
    assert m[0, 1] > 0 and m[2, 2] > 0 and m[0, 2] == m[1, 2] == 0  # 0-2 and 1-2 rarer than chance: dropped


def test_words_used_alike_get_close_vectors_and_a_run_repeats():
    rng = np.random.default_rng(0)
    # ids 2 and 3 both sit between 10 and 11; ids 4 and 5 between 12 and 13; id 6 never occurs
    docs = [torch.tensor([10, int(w), 11] if w < 4 else [12, int(w), 13]) for w in rng.integers(2, 6, 400)]
    vectors = ppmi_svd(docs, vocab_size=14, dim=4, window=1)
    unit = torch.nn.functional.normalize(vectors[[2, 3, 4, 5]], dim=1)
    sim = unit @ unit.T
    assert sim[0, 1] > 0.9 and sim[2, 3] > 0.9 and abs(sim[0, 2]) < 0.3, sim
    assert torch.equal(vectors[6], torch.zeros(4))
    norms = vectors.norm(dim=0)
    assert torch.all(norms[:-1] >= norms[1:] - 1e-5)  # the largest singular direction first
    assert torch.equal(vectors, ppmi_svd(docs, vocab_size=14, dim=4, window=1))


def test_cooccurrences_default_window_is_five_and_short_documents_count_too():
    counts = cooccurrences([torch.arange(7)], vocab_size=7).toarray()
    assert counts[0, 5] == counts[5, 0] == 1 and counts[0, 6] == 0  # 5 apart counted, 6 apart not
    assert counts.sum() == 2 * (6 + 5 + 4 + 3 + 2)
    short = cooccurrences([torch.tensor([1, 2]), torch.tensor([3])], vocab_size=4).toarray()
    assert short[1, 2] == short[2, 1] == 1 and short.sum() == 2
    none = cooccurrences([torch.tensor([1]), torch.tensor([2])], vocab_size=4)
    assert none.shape == (4, 4) and none.nnz == 0
    repeated = cooccurrences([torch.tensor([1, 2, 1, 2])], vocab_size=3, window=1).toarray()
    assert repeated[1, 2] == repeated[2, 1] == 3  # every occurrence counts


def test_ppmi_smooths_context_counts_with_alpha_three_quarters_by_default():
    counts = np.array([[0, 8, 1, 0], [8, 0, 1, 2], [1, 1, 8, 0], [0, 2, 0, 1]], dtype=float)
    total, word = counts.sum(), counts.sum(1)
    context = word ** 0.75 / (word ** 0.75).sum() * total
    with np.errstate(divide="ignore"):
        expected = np.maximum(np.log(counts * total / np.outer(word, context)), 0)
    np.testing.assert_allclose(ppmi(counts).toarray(), expected, rtol=1e-12)
    assert not np.allclose(ppmi(counts).toarray(), ppmi(counts, alpha=1.0).toarray())
    unseen_last = np.zeros((5, 5))
    unseen_last[:4, :4] = counts
    assert ppmi(unseen_last).shape == (5, 5)  # a word never seen keeps its (empty) row


def test_word_vectors_are_u_times_root_s_of_the_top_singular_directions():
    rng = np.random.default_rng(1)
    docs = [torch.tensor(rng.integers(0, 80, 30)) for _ in range(60)]
    vectors = ppmi_svd(docs, vocab_size=80)
    assert vectors.shape == (80, 64) and vectors.dtype == torch.float32  # dim 64 by default
    top = np.linalg.svd(ppmi(cooccurrences(docs, 80)).toarray(), compute_uv=False)[:64]
    np.testing.assert_allclose(vectors.norm(dim=0).numpy() ** 2, top, rtol=1e-4)  # |U_j sqrt(s_j)|^2 = s_j
    assert torch.equal(vectors, ppmi_svd(docs, vocab_size=80, seed=0))
    narrow = ppmi_svd(docs, vocab_size=80, dim=3, window=1)
    top1 = np.linalg.svd(ppmi(cooccurrences(docs, 80, window=1)).toarray(), compute_uv=False)[:3]
    np.testing.assert_allclose(narrow.norm(dim=0).numpy() ** 2, top1, rtol=1e-4)
