"""The AWD-LSTM pieces of coursehelpers.text.awdlstm and the models built on them."""
from __future__ import annotations

import pytest
import torch

from coursehelpers.text.awdlstm import AWDLSTM, EmbeddingDropout, LanguageModel, RNNDropout, TextClassifier, WeightDrop
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


def test_awd_lstm_defaults_are_wt103s():
    enc = AWDLSTM(10)
    assert [(r.module.input_size, r.module.hidden_size) for r in enc.rnns] == [(400, 1152), (1152, 1152), (1152, 400)]
    assert (enc.embed_drop.p, enc.input_drop.p, enc.rnns[0].weight_p, [d.p for d in enc.hidden_drops]) == \
        (0.1, 0.6, 0.5, [0.2, 0.2])
    assert WeightDrop(2, 3).weight_p == 0.5
    weight = enc.embed.weight
    assert weight.shape == (10, 400) and 0.09 < weight.abs().max() <= 0.1  # U(-0.1, 0.1)
    assert 0.5 < AWDLSTM(10, 8, 8, 1, embed_init=1.0).embed.weight.abs().max() <= 1.0


def test_dropouts_pass_through_in_eval_and_at_p_zero_and_scale_the_kept_values():
    x = torch.randn(3, 5, 4)
    assert torch.equal(RNNDropout(0.5).eval()(x), x) and torch.equal(RNNDropout(0.0).train()(x), x)
    torch.manual_seed(0)
    out = RNNDropout(0.75).train()(torch.ones(200, 3, 8))
    assert set(out.unique().tolist()) == {0.0, 4.0} and 0.2 < (out > 0).float().mean() < 0.3  # kept: 1 - p
    assert not torch.equal(out[0], out[1])  # one mask per sequence, not per batch
    embed = torch.nn.Embedding(50, 3)
    torch.manual_seed(0)
    rows = EmbeddingDropout(0.75).train()(embed, torch.arange(50))
    kept = (rows != 0).all(1)
    assert 5 < kept.sum() < 22 and torch.allclose(rows[kept], 4 * embed.weight[kept])
    assert torch.equal(EmbeddingDropout(0.0).train()(embed, torch.arange(50)), embed.weight)


def test_padding_gets_no_gradient_and_the_encoder_reads_it_as_its_own_row():
    torch.manual_seed(0)
    enc = AWDLSTM(12, 4, 5, 2, embed_p=0.0, input_p=0.0, weight_p=0.0, hidden_p=0.0).train()
    out, state = enc(torch.tensor([[3, 4, PAD_IDX]]))
    out.sum().backward()
    grad = enc.embed.weight.grad
    assert torch.equal(grad[PAD_IDX], torch.zeros(4)) and grad[3].abs().sum() > 0
    assert out.shape == (1, 3, 4) and [s[0].shape for s in state] == [(1, 1, 5), (1, 1, 4)]


def test_encoder_state_continues_a_sequence_layer_by_layer():
    torch.manual_seed(0)
    enc = AWDLSTM(12, 4, 5, 3).eval()
    ids = torch.randint(2, 12, (2, 7))
    full, _ = enc(ids)
    _, state = enc(ids[:, :4])
    rest, _ = enc(ids[:, 4:], state)
    assert torch.allclose(rest, full[:, 4:], atol=1e-6)
    assert len(enc.hidden_drops) == 2


def test_encoder_applies_dropout_between_layers_but_not_after_the_last():
    torch.manual_seed(0)
    enc = AWDLSTM(12, 4, 5, 2, embed_p=0.0, input_p=0.0, weight_p=0.0, hidden_p=0.9).train()
    ids = torch.randint(2, 12, (4, 6))
    a, b = enc(ids)[0], enc(ids)[0]
    assert not torch.allclose(a, b)  # the hidden dropout between the two layers draws anew
    assert (a != 0).all()  # nothing dropped after the last layer: the LSTM's outputs are never exactly 0
    enc.hidden_drops[0].p = 0.0
    assert torch.allclose(enc(ids)[0], enc(ids)[0])


def test_language_model_detaches_its_state_and_starts_with_a_zero_bias():
    torch.manual_seed(0)
    lm = language_model(30, emb_size=6, hidden_size=10, n_layers=2)
    assert torch.equal(lm.decoder.bias, torch.zeros(30)) and lm.output_drop.p == pytest.approx(0.1)
    assert LanguageModel(AWDLSTM(30, 6, 10, 2)).output_drop.p == 0.1
    logits = lm(torch.randint(0, 30, (3, 4)))
    assert logits.shape == (12, 30)
    assert all(h.grad_fn is None and c.grad_fn is None for h, c in lm.hidden)  # truncated BPTT
    logits.sum().backward()  # a second batch's backward never reaches into the first's graph
    lm(torch.randint(0, 30, (3, 4))).sum().backward()


def test_classifier_pools_the_last_real_token_the_max_and_the_mean():
    clf = TextClassifier(AWDLSTM(10, 2, 3, 1), n_classes=2)
    out = torch.tensor([[[1.0, -1.0], [3.0, -5.0], [9.0, 9.0]], [[2.0, 4.0], [-2.0, 0.0], [6.0, 6.0]]])
    ids = torch.tensor([[5, 6, PAD_IDX], [5, 6, 7]])
    pooled = clf.pool(out, ids)
    expected = torch.tensor([[3.0, -5.0, 3.0, -1.0, 2.0, -3.0], [6.0, 6.0, 6.0, 6.0, 2.0, 10 / 3]])
    assert torch.allclose(pooled, expected)  # (last real token, max, mean), each over the real tokens only
    one = clf.pool(out[:1], torch.tensor([[5, PAD_IDX, PAD_IDX]]))  # a one-token text: that token, three times
    assert one.tolist() == [[1.0, -1.0, 1.0, -1.0, 1.0, -1.0]]
    all_pad = clf.pool(out[:1], torch.full((1, 3), PAD_IDX))
    assert torch.isfinite(all_pad[:, 4:]).all()  # no division by zero


def test_classifier_head_is_fastais():
    clf = TextClassifier(AWDLSTM(10, 4, 3, 1), n_classes=3)
    kinds = [type(m).__name__ for m in clf.head]
    assert kinds == ["BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    first, last = clf.head[2], clf.head[6]
    assert (first.in_features, first.out_features, last.out_features) == (12, 50, 3)
    assert first.bias is None and last.bias is None and [clf.head[1].p, clf.head[5].p] == [0.4, 0.1]
    clf.eval()
    assert clf(torch.tensor([[2, 3, 4]])).shape == (1, 3)
