"""The AWD-LSTM pieces of coursehelpers.text.awdlstm and the models built on them."""
from __future__ import annotations

import torch

from coursehelpers.text.awdlstm import EmbeddingDropout, RNNDropout, WeightDrop
from coursehelpers.text.tokenize import PAD_IDX
from coursehelpers.text.ulmfit import classifier_splitter, language_model, lm_splitter, text_classifier


def test_weight_drop_drops_in_training_only():
    torch.manual_seed(0)
    rnn = WeightDrop(3, 4, weight_p=0.5)
    x = torch.randn(2, 5, 3)
    a, _ = rnn.eval()(x)
    reference = torch.nn.LSTM(3, 4, batch_first=True)
    reference.load_state_dict({"weight_ih_l0": rnn.module.weight_ih_l0, "weight_hh_l0": rnn.weight_hh_l0_raw,
                               "bias_ih_l0": rnn.module.bias_ih_l0, "bias_hh_l0": rnn.module.bias_hh_l0})
    assert torch.allclose(a, reference(x)[0], atol=1e-6)  # eval = the raw matrix, undropped
    c, _ = rnn.train()(x)
    d, _ = rnn(x)
    assert not torch.allclose(c, a) and not torch.allclose(c, d)
    c.sum().backward()
    assert rnn.weight_hh_l0_raw.grad is not None and rnn.weight_hh_l0_raw.grad.abs().sum() > 0


def test_rnn_and_embedding_dropout():
    out = RNNDropout(0.5).train()(torch.ones(4, 6, 8))
    assert torch.equal(out[:, 0], out[:, 5])  # one mask for every time step
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    embed, edrop = torch.nn.Embedding(10, 3), EmbeddingDropout(0.5).train()
    torch.manual_seed(0)
    rows = edrop(embed, torch.arange(10))
    zero = (rows == 0).all(1)
    assert 0 < zero.sum() < 10  # whole words dropped
    assert torch.allclose(rows[~zero], 2 * embed.weight[~zero])
    assert torch.equal(edrop.eval()(embed, torch.arange(10)), embed.weight)


def test_language_model_ties_weights_and_carries_state():
    torch.manual_seed(0)
    lm = language_model(30, emb_size=6, hidden_size=10, n_layers=3).eval()
    assert lm.decoder.weight is lm.encoder.embed.weight
    x = torch.randint(0, 30, (2, 8))
    full = lm(x).view(2, 8, 30)
    lm.reset()
    first, second = lm(x[:, :5]).view(2, 5, 30), lm(x[:, 5:]).view(2, 3, 30)
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-5)  # state carried over
    lm.reset()
    assert not torch.allclose(lm(x[:, 5:]).view(2, 3, 30), second, atol=1e-5)


def test_classifier_pooling_ignores_padding():
    torch.manual_seed(0)
    clf = text_classifier(20, n_classes=3, emb_size=6, hidden_size=8, n_layers=2, drop_mult=1.0).eval()
    short = torch.tensor([[2, 5, 6, 7]])
    assert torch.allclose(clf(short), clf(torch.tensor([[2, 5, 6, 7, PAD_IDX, PAD_IDX]])), atol=1e-6)
    groups = classifier_splitter(clf)
    assert len(groups) == 4  # embedding, 2 LSTM layers, head
    assert sum(len(g) for g in groups) == len(list(clf.parameters()))


def test_lm_splitter_covers_every_parameter_once():
    lm = language_model(30, 6, 10, 3)
    ids = [id(p) for g in lm_splitter(lm) for p in g]
    assert len(ids) == len(set(ids)) == len(list(lm.parameters()))
    assert lm_splitter(lm)[-1][0] is lm.encoder.embed.weight
