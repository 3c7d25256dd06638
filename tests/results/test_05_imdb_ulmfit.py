"""What lesson 5 (IMDB, ULMFiT) learned, checked against the baselines measured in the same run.

Sample mode (real Rotten Tomatoes snippets: 2,400 train, 600 validation, 1,600 test; awd_lstm_small,
pretrained two epochs on WordNet's glosses from GloVe's 50-d vectors, held-out gloss perplexity 84),
measured on a shared 2-core machine, test accuracy for seeds 42 / 0 / 1 / 2 / 3: ULMFiT
73.0 / 72.7 / 70.9 / 70.3 / 71.3%, the same network from scratch 70.1 / 70.2 / 69.9 / 68.4 / 67.5%
(at 3e-3; 50.0% at 1e-2 in one run), TF-IDF 72.8 / 71.1 / 71.6 / 72.4 / 71.4%; seed 42 validation
74.5 / 72.3 / 72.8%. Language-model perplexity on held-out texts 954 / 845 / 913 / 942 / 889 before
fine-tuning, 124 / 134 / 126 / 136 / 126 after; a random start of the same model: 5,800 (seed 42).
72% of the lesson's vocabulary and 90% of its tokens are in the pretrained vocabulary. The sample
model this replaced (emb 64, embedding from PPMI vectors of the glosses): ULMFiT 69.4 / 70.5 / 72.0%
(seeds 42 / 0 / 1), perplexity before fine-tuning 747 / 680 / 737. Full mode: fastbook reports 94.3%
for ULMFiT on IMDB (chapter 10).
"""


def test_language_model_fine_tuning_fits_the_reviews(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Step 2 must adapt the pretrained model to the reviews: measured 954 -> 124 on the sample (seed 42).
    assert m["ppl_after"] < 0.5 * m["ppl_before"], m


def test_the_pretrained_model_knows_some_english_before_fine_tuning(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # A random start of the same model: 5,800 (about the vocabulary's size). The pretrained one measured
    # 845 to 954 over five seeds; 1,500 is a quarter of the random start's.
    assert m["ppl_before"] < 1500, m


def test_pretrained_vocabulary_covers_the_reviews(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Measured 72% of the vocabulary and 90% of the tokens (the Python-docs model: 17% and 69%).
    assert m["vocab_coverage"] > 0.5 and m["token_coverage"] > 0.8, m


def test_pretraining_beats_training_from_scratch(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Measured ahead by 2.9, 2.5, 1.0, 1.9 and 3.8 points (seeds 42, 0, 1, 2, 3).
    assert m["ulmfit_acc"] > m["no_pretrain_acc"], m


def test_ulmfit_keeps_up_with_the_bag_of_words(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Issue 12, item 4. Against TF-IDF the five seeds measured +0.2, +1.6, -0.7, -2.1 and -0.1 points
    # (one standard error on 1,600 texts: about 1.1): a tie, so the test allows 2.5 points, about two
    # standard errors. The model this replaced was 3.4 points behind with the lesson's seed (42).
    assert m["ulmfit_acc"] > m["tfidf_acc"] - 0.025, m


def test_every_model_learned_something(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Half the test snippets are positive: chance is 0.5. The weakest model measured 0.675 (1,600 test
    # texts: one standard error is about 1.2 points), so 0.6 leaves room for other platforms.
    for key in ("ulmfit_acc", "tfidf_acc", "no_pretrain_acc"):
        assert 0.6 < m[key] <= 1.0, (key, m)
    assert m["n_test"] > 0 and m["seconds"] > 0
