"""Lesson 6 (collaborative filtering): what the run learned, against baselines measured in the same run.

Both modes use real MovieLens ratings. The lesson's sample run (ml-latest-small, 80,003 training and
20,001 validation ratings) measured: global mean 1.121, biases only 0.813, dot product + biases 0.762
(0.775 without weight decay), genre R² of the PCA map 0.166 against 0.010 with shuffled genres, and
nearest neighbours sharing a genre 68.9% of the time against 54.2% for random pairs.
"""


def test_dot_product_beats_global_mean_and_biases_only(lesson_metrics):
    m = lesson_metrics("06_collab")
    # The global mean ignores users and movies (sample run: 1.121 vs 0.762, a ratio of 0.68); a 20% margin
    # is far inside that gap and still says the model learned something.
    assert m["dot_bias_mse"] < 0.8 * m["global_mean_mse"], m
    # Biases alone capture generous users and good movies but no taste (sample run: 0.813 vs 0.762, a
    # ratio of 0.94); the latent factors must add at least 2% on top of them.
    assert m["dot_bias_mse"] < 0.98 * m["bias_only_mse"], m


def test_weight_decay_helps_at_the_same_budget(lesson_metrics):
    # The lesson's prose says so. In the sample run the gap is 0.014 (0.762 vs 0.775) and the run is
    # seeded, so no extra margin is asked for.
    m = lesson_metrics("06_collab")
    assert m["wd_mse"] < m["no_wd_mse"], m


def test_interpretation_finds_structure_beyond_chance(lesson_metrics):
    m = lesson_metrics("06_collab")
    # Each against its control measured in the same run: neighbours by cosine similarity share a genre
    # more often than random pairs (sample run: 0.689 vs 0.542), and the genres explain more of the PCA
    # map than the same flags shuffled between movies (0.166 vs 0.010). About a third of each gap is asked for.
    agreement_gap = m["neighbour_genre_agreement"] - m["random_genre_agreement"]
    assert agreement_gap > 0.05, m
    assert m["genre_r2"] > m["shuffled_genre_r2"] + 0.05, m
