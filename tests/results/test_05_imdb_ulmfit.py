"""What lesson 5 (IMDB, ULMFiT) learned, checked against the baselines measured in the same run.

Sample mode, measured with seeds 42, 1 and 7 (500 test reviews; one point = 5 reviews):
ULMFiT 95.6 / 96.2 / 94.0%, TF-IDF with bigrams 83.6% (it does not depend on the seed),
the same AWD-LSTM from scratch 85.8 / 82.6 / 87.8%; language-model perplexity about 160
before fine-tuning and 2.7 after. Full mode: fastbook reports 94.3% for ULMFiT, and a
TF-IDF bigram model reaches about 89-90% on IMDB, so the full margin is smaller.
"""


def test_language_model_fine_tuning_fits_the_reviews(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Step 2 must adapt the pretrained model to the reviews: measured 160 -> 2.7 on the sample.
    assert m["ppl_after"] < 0.5 * m["ppl_before"], m


def test_ulmfit_beats_the_bag_of_words(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # Measured margin on the sample: 10.4 to 12.6 points over three seeds; 5 points leaves
    # room for other platforms. On real IMDB the gap is 4-5 points, so 2 points there.
    margin = 0.05 if m["size"] == "sample" else 0.02
    assert m["ulmfit_acc"] > m["tfidf_acc"] + margin, m


def test_pretraining_beats_training_from_scratch(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    # The ablation: same network, same epochs, random start. Measured 6.2 to 13.6 points
    # behind ULMFiT on the sample, so no extra margin is demanded here.
    assert m["ulmfit_acc"] > m["no_pretrain_acc"], m


def test_every_model_learned_something(lesson_metrics):
    m = lesson_metrics("05_imdb_ulmfit")
    for key in ("ulmfit_acc", "tfidf_acc", "no_pretrain_acc"):
        assert 0.7 < m[key] <= 1.0, (key, m)  # half the test reviews are positive: chance is 0.5
    assert m["seconds"] > 0
