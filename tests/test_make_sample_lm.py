"""The sample language models' vocabulary growth (data/make_sample_lm.py) and the bundled files it made."""
import importlib.util
from pathlib import Path

import torch

from coursehelpers.text.ulmfit import read_fastai_lm

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_sample_lm", ROOT / "data" / "make_sample_lm.py")
make_sample_lm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_sample_lm)


def test_new_words_follow_the_linear_map_fitted_on_the_shared_ones():
    torch.manual_seed(0)
    vectors = torch.randn(40, 5)                       # "GloVe": 40 words
    planted, shift = torch.randn(5, 3), torch.randn(3)
    itos = [f"w{i}" for i in range(30)]                # the trained vocabulary: the first 30 words
    embedding, bias = vectors[:30] @ planted + shift, torch.arange(30.0)
    words = itos + [f"new{i}" for i in range(10)]
    e, b, out = make_sample_lm.add_glove_words(embedding, bias, itos, words, vectors)
    assert out == words and torch.equal(e[:30], embedding) and torch.equal(b[:30], bias)
    assert torch.allclose(e[30:], vectors[30:] @ planted + shift, atol=1e-4)
    assert torch.allclose(b[30:], bias.mean().repeat(10))  # fewer than N_RARE tokens: all are the rarest


def test_a_typographic_twin_copies_its_trained_row_even_where_glove_has_the_twin():
    itos, words = ["a", "b", "c", "it's", '"'], ["a", "b", "c", "it\u2019s", "\u201c", "z"]
    vectors = torch.tensor([[1., 0], [0, 1], [1, 1], [5, 5], [7, 7], [2, 0]])
    embedding = torch.tensor([[2., 0], [0, 2], [2, 2], [9, 9], [8, 8]])
    e, b, out = make_sample_lm.add_glove_words(embedding, torch.zeros(5), itos, words, vectors)
    assert out == itos + ["z", "it\u2019s", "\u201c", "\u201d"] and len(set(out)) == len(out)
    assert e[out.index("it\u2019s")].tolist() == [9, 9] and e[out.index("\u201d")].tolist() == [8, 8]
    assert torch.allclose(e[out.index("z")], torch.tensor([4., 0]), atol=1e-4)


def test_the_bundled_models_know_critics_words_from_glove():
    for name in ("awd_lstm_small", "awd_lstm_small_bwd"):
        state, itos = read_fastai_lm(ROOT / "data" / "weights" / name)
        stoi, emb = {t: i for i, t in enumerate(itos)}, state["encoder.embed.weight"]
        assert len(itos) == len(stoi) == 33_702 and stoi["hilarious"] >= 16_000 and "n\u2019t" in stoi
        cos = lambda a, b: float(torch.cosine_similarity(emb[stoi[a]], emb[stoi[b]], 0))
        assert cos("hilarious", "funny") > cos("hilarious", "boring") + 0.1   # 0.86 against 0.66
        assert cos("fascinating", "interesting") > cos("fascinating", "dull") + 0.2  # 0.86 against 0.45
        raw = torch.load(next(p for p in (ROOT / "data" / "weights" / name).glob("lstm_*.pth")), weights_only=True)
        assert {v.dtype for v in raw.values()} == {torch.float16}
