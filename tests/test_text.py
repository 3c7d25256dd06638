"""Unit tests of coursehelpers.text on toy text with known answers (CPU, a few seconds)."""
from __future__ import annotations

import pickle

import pytest
import torch

from coursehelpers import text as T


# ----------------------------------------------------------------------------- tokenizer

def test_tokenizer_specials():
    toks = T.tokenize("This is GREAT!!!! I mean it it it.")
    assert toks == ["xxbos", "xxmaj", "this", "is", "xxup", "great", "xxrep", "4", "!",
                    "xxmaj", "i", "mean", "xxwrep", "3", "it", "."]


def test_tokenizer_html_clitics_and_numbers():
    toks = T.tokenize("Don't miss it.<br /><br />It's 7.5/10 &amp; I'd see it again")
    assert "<" not in toks and "br" not in toks
    assert toks[:5] == ["xxbos", "xxmaj", "do", "n't", "miss"]
    assert ["it", "'s", "7.5", "/", "10", "&"] == toks[toks.index("'s") - 1: toks.index("&") + 1]
    assert "'d" in toks


def test_tokenizer_keeps_long_numbers_and_marks_repeated_letters():
    assert T.tokenize("1000 sooo good") == ["xxbos", "1000", "s", "xxrep", "3", "o", "good"]


def test_untokenize_round_trip():
    text = "I LOVED it!!!! Don't miss it."
    assert T.untokenize(T.tokenize(text)) == text


def test_tokenize_texts_in_processes_matches_serial():
    texts = ["One film.", "Two FILMS!!!", "it it it"]
    assert T.tokenize_texts(texts, processes=2) == T.tokenize_texts(texts)


# ----------------------------------------------------------------------------- vocabulary

def test_vocab_specials_first_min_freq_max_vocab():
    docs = [["b", "a", "a", "c"], ["a", "b", "d"]]
    v = T.Vocab.build(docs, min_freq=2)
    assert v.itos[: len(T.SPECIALS)] == list(T.SPECIALS)
    assert v.itos[len(T.SPECIALS):] == ["a", "b"]  # most frequent first; c, d too rare
    assert T.Vocab.build(docs, min_freq=1, max_vocab=len(T.SPECIALS) + 1).itos[-1] == "a"
    # ties are broken alphabetically, so the ids never depend on input order
    assert T.Vocab.build([["y", "x"]], min_freq=1).itos == T.Vocab.build([["x", "y"]], min_freq=1).itos


def test_numericalise_round_trip_and_unknown():
    toks = T.tokenize("The film is good. The film is bad.")
    v = T.Vocab.build([toks], min_freq=1)
    ids = v.encode(toks)
    assert ids.dtype == torch.long and v.decode(ids) == toks
    assert v.encode(["never-seen"]).tolist() == [T.UNK_IDX]


# ----------------------------------------------------------------------------- LM loader

def _docs():
    return [torch.arange(0, 37), torch.arange(100, 150), torch.arange(200, 213)]


@pytest.mark.parametrize("shuffle", [False, True])
def test_lm_targets_are_inputs_shifted_and_streams_contiguous(shuffle):
    bs, seq_len = 4, 5
    streams = T.LMStreams(_docs(), bs=bs, seq_len=seq_len, shuffle=shuffle,
                          generator=torch.Generator().manual_seed(0))
    batches = list(streams)
    assert len(batches) == len(streams)
    xs = torch.cat([x for x, _ in batches], dim=1)
    ys = torch.cat([y.view(bs, -1) for _, y in batches], dim=1)
    assert torch.equal(xs[:, 1:], ys[:, :-1])  # target = next input
    for x, y in batches:
        assert torch.equal(x[:, 1:], y.view(bs, -1)[:, :-1])
    # each row is one contiguous piece of the joined stream, and the rows follow each other
    joined = torch.cat([xs, ys[:, -1:]], dim=1).reshape(-1)
    all_tokens = torch.cat(_docs())
    if not shuffle:
        assert torch.equal(joined, all_tokens[: joined.numel()])
    else:
        assert set(joined.tolist()) <= set(all_tokens.tolist())
        assert len(set(joined.tolist())) == joined.numel()  # nothing read twice


def test_lm_lengths_vary_when_shuffled_but_batch_count_is_fixed():
    docs = [torch.arange(i * 1000, i * 1000 + 700) for i in range(10)]
    streams = T.LMStreams(docs, bs=2, seq_len=40, shuffle=True, generator=torch.Generator().manual_seed(1))
    lengths = [x.shape[1] for x, _ in streams]
    assert len(set(lengths)) > 3 and len(lengths) == len(streams)
    assert sum(lengths) == streams.n_cols
    fixed = [x.shape[1] for x, _ in T.LMStreams(docs, bs=2, seq_len=40)]
    assert set(fixed[:-1]) == {40}


def test_lm_loader_is_a_plain_dataloader():
    dl = T.lm_loader(_docs(), bs=2, seq_len=8)
    x, y = next(iter(dl))
    assert x.shape == (2, 8) and y.shape == (16,) and len(dl) == len(dl.dataset)


# ----------------------------------------------------------------------------- classifier loader

def test_classifier_batches_are_padded_last_and_sorted():
    docs = [torch.full((n,), 5 + n) for n in (3, 9, 4, 8, 1, 7)]
    labels = [0, 1, 0, 1, 0, 1]
    dl = T.classifier_loader(docs, labels, bs=2)
    batches = list(dl)
    assert [b[0].shape[1] for b in batches] == [9, 7, 3]  # longest first, each padded to its longest
    x, y = batches[1]
    assert x.tolist() == [[12] * 7, [9] * 4 + [T.PAD_IDX] * 3] and y.tolist() == [1, 0]
    order = dl.batch_sampler.order
    assert [len(docs[i]) for i in order] == sorted((len(d) for d in docs), reverse=True)
    x, y = batches[2]
    assert x.tolist() == [[8, 8, 8], [6, T.PAD_IDX, T.PAD_IDX]] and y.tolist() == [0, 0]


def test_shuffled_classifier_batches_group_similar_lengths():
    docs = [torch.full((n,), 5) for n in range(1, 201)]
    dl = T.classifier_loader(docs, [0] * 200, bs=10, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(dl)
    assert len(batches) == len(dl) == 20
    assert sorted(i for b in dl.batch_sampler for i in b) == list(range(200))
    pads = sum(int((x == T.PAD_IDX).sum()) for x, _ in batches)
    assert pads < 0.2 * sum(range(1, 201))  # random batches would pad about a third


# ----------------------------------------------------------------------------- model pieces

def test_weight_drop_drops_in_training_only():
    torch.manual_seed(0)
    rnn = T.WeightDrop(3, 4, weight_p=0.5)
    x = torch.randn(2, 5, 3)
    rnn.eval()
    a, _ = rnn(x)
    b, _ = rnn(x)
    assert torch.equal(a, b)
    reference = torch.nn.LSTM(3, 4, batch_first=True)
    reference.load_state_dict({"weight_ih_l0": rnn.module.weight_ih_l0, "weight_hh_l0": rnn.weight_hh_l0_raw,
                               "bias_ih_l0": rnn.module.bias_ih_l0, "bias_hh_l0": rnn.module.bias_hh_l0})
    assert torch.allclose(a, reference(x)[0], atol=1e-6)  # eval = the raw matrix, undropped
    rnn.train()
    c, _ = rnn(x)
    d, _ = rnn(x)
    assert not torch.allclose(c, a) and not torch.allclose(c, d)
    c.sum().backward()
    assert rnn.weight_hh_l0_raw.grad is not None and rnn.weight_hh_l0_raw.grad.abs().sum() > 0
    assert "weight_hh_l0_raw" in dict(rnn.named_parameters())


def test_rnn_and_embedding_dropout():
    drop = T.RNNDropout(0.5).train()
    out = drop(torch.ones(4, 6, 8))
    assert torch.equal(out[:, 0], out[:, 5])  # one mask for every time step
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    embed = torch.nn.Embedding(10, 3)
    edrop = T.EmbeddingDropout(0.5).train()
    torch.manual_seed(0)
    rows = edrop(embed, torch.arange(10))
    zero = (rows == 0).all(1)
    assert 0 < zero.sum() < 10  # whole words dropped
    assert torch.allclose(rows[~zero], 2 * embed.weight[~zero])
    assert torch.equal(edrop.eval()(embed, torch.arange(10)), embed.weight)


def test_language_model_ties_weights_and_carries_state():
    torch.manual_seed(0)
    lm = T.language_model(30, emb_size=6, hidden_size=10, n_layers=3)
    assert lm.decoder.weight is lm.encoder.embed.weight
    assert lm.decoder.weight.data_ptr() == lm.encoder.embed.weight.data_ptr()
    lm.eval()
    x = torch.randint(0, 30, (2, 8))
    full = lm(x).view(2, 8, 30)
    lm.reset()
    first, second = lm(x[:, :5]).view(2, 5, 30), lm(x[:, 5:]).view(2, 3, 30)
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-5)  # state carried over
    lm.reset()
    assert not torch.allclose(lm(x[:, 5:]).view(2, 3, 30), second, atol=1e-5)


def test_classifier_pooling_ignores_padding():
    torch.manual_seed(0)
    clf = T.text_classifier(20, n_classes=3, emb_size=6, hidden_size=8, n_layers=2).eval()
    short = torch.tensor([[2, 5, 6, 7]])
    padded = torch.tensor([[2, 5, 6, 7, T.PAD_IDX, T.PAD_IDX]])
    assert torch.allclose(clf(short), clf(padded), atol=1e-6)
    groups = T.classifier_splitter(clf)
    assert len(groups) == 4  # embedding, 2 LSTM layers, head
    assert sum(len(g) for g in groups) == len(list(clf.parameters()))


def test_lm_splitter_covers_every_parameter_once():
    lm = T.language_model(30, 6, 10, 3)
    groups = T.lm_splitter(lm)
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(lm.parameters()))
    assert groups[-1][0] is lm.encoder.embed.weight


# ----------------------------------------------------------------------------- pretrained weights

def _fastai_style_folder(tmp_path, wrap: bool):
    torch.manual_seed(0)
    old_itos = list(T.SPECIALS) + ["the", "film", "good"]
    lm = T.language_model(len(old_itos), emb_size=4, hidden_size=6, n_layers=2)
    T.save_fastai_lm(lm, old_itos, tmp_path)
    if wrap:  # fastai may save {'model': state, 'opt': ...}
        state = torch.load(tmp_path / T.LM_FILE)
        torch.save({"model": state, "opt": {}}, tmp_path / T.LM_FILE)
    return lm, old_itos


def test_saved_file_has_fastai_keys(tmp_path):
    _fastai_style_folder(tmp_path, wrap=False)
    keys = set(torch.load(tmp_path / T.LM_FILE))
    assert {"0.encoder.weight", "0.encoder_dp.emb.weight", "0.rnns.1.weight_hh_l0_raw",
            "0.rnns.0.module.weight_ih_l0", "0.rnns.0.module.bias_hh_l0",
            "1.decoder.weight", "1.decoder.bias"} <= keys
    with open(tmp_path / T.ITOS_FILE, "rb") as f:
        assert pickle.load(f)[:2] == [T.UNK, T.PAD]


@pytest.mark.parametrize("wrap", [False, True])
def test_load_pretrained_into_new_vocab(tmp_path, wrap):
    old, old_itos = _fastai_style_folder(tmp_path, wrap)
    new_itos = list(T.SPECIALS) + ["good", "movie", "the"]
    lm, shared = T.load_pretrained_lm(tmp_path, new_itos)
    old_emb, new_emb = old.encoder.embed.weight, lm.encoder.embed.weight
    assert lm.encoder.hidden_size == 6 and lm.encoder.n_layers == 2 and new_emb.shape == (10, 4)
    for tok in ("good", "the", T.UNK, T.PAD):
        assert torch.equal(new_emb[new_itos.index(tok)], old_emb[old_itos.index(tok)])
    movie = new_itos.index("movie")
    assert torch.allclose(new_emb[movie], old_emb.mean(0))
    assert torch.allclose(lm.decoder.bias[movie], old.decoder.bias.mean())
    assert lm.decoder.weight is lm.encoder.embed.weight  # still tied after loading
    assert torch.equal(lm.encoder.rnns[1].weight_hh_l0_raw, old.encoder.rnns[1].weight_hh_l0_raw)
    assert shared == pytest.approx(9 / 10)


def test_pickled_itos_with_code_is_refused(tmp_path):
    _fastai_style_folder(tmp_path, wrap=False)
    with open(tmp_path / T.ITOS_FILE, "wb") as f:
        pickle.dump([T.UNK, T.PAD, print], f)  # a reference to a function, not a string
    with pytest.raises(pickle.UnpicklingError):
        T.read_fastai_lm(tmp_path)


def test_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="get_weights"):
        T.read_fastai_lm(tmp_path)


def test_generate_is_repeatable_with_a_generator():
    vocab = T.Vocab(list(T.SPECIALS) + ["good", "film", "."])
    lm = T.language_model(len(vocab), 4, 6, 2)
    a = T.generate(lm, vocab, "Good film", 5, generator=torch.Generator().manual_seed(0))
    b = T.generate(lm, vocab, "Good film", 5, generator=torch.Generator().manual_seed(0))
    assert a == b and a.startswith("Good film")
