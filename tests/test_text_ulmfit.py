"""fastai's LM files, the ULMFiT learners, export and prediction, on tiny models (CPU, seconds)."""
from __future__ import annotations

import pickle

import pytest
import torch

from coursehelpers.config import TrainConfig
from coursehelpers.export import load_learner
from coursehelpers.text.data import TextClassDataset, Vocab, lm_dataloaders, text_classifier_dataloaders
from coursehelpers.text.tokenize import PAD, SPECIALS, UNK, tokenize
from coursehelpers.text.ulmfit import (BACKWARD_LM_FILE, ITOS_FILE, LM_FILE, generate, language_model, language_model_learner,
                                       neighbours, read_fastai_lm, save_fastai_lm, text_classifier,
                                       text_classifier_learner)

CPU = torch.device("cpu")
QUIET = TrainConfig(log=False, grad_clip=0.25)
OLD_ITOS = list(SPECIALS) + ["the", "film", "good"]


@pytest.fixture
def fastai_folder(tmp_path):
    """A tiny language model saved in fastai's layout, and the model."""
    torch.manual_seed(0)
    lm = language_model(len(OLD_ITOS), emb_size=4, hidden_size=6, n_layers=2)
    save_fastai_lm(lm, OLD_ITOS, tmp_path)
    return tmp_path, lm


# fastai 2.8.12's language model (get_language_model(AWD_LSTM, vocab, config)) lists its state dict in
# this order, written down from fastai itself; its loader (load_pretrained -> load_ignore_keys) drops
# the keys it ignores, then pairs the file's tensors with the model's BY POSITION.
def fastai_lm_state_order(n_layers: int) -> list[str]:
    rnn = ["weight_hh_l0_raw", "module.weight_ih_l0", "module.bias_ih_l0", "module.bias_hh_l0"]
    return (["0.encoder.weight", "0.encoder_dp.emb.weight"] + [f"0.rnns.{i}.{k}" for i in range(n_layers) for k in rnn]
            + ["1.decoder.weight", "1.decoder.bias"])


def fastai_load_pretrained(file_state: dict, old_itos: list, new_itos: list, model_keys: list) -> dict:
    """What fastai's load_pretrained does with a file: match_embeds (new tokens get the mean row and
    bias), clean_raw_keys, then the tensors in file order onto the model's keys in model order."""
    wgts, old = dict(file_state), {w: i for i, w in enumerate(old_itos)}
    emb, bias = wgts["0.encoder.weight"], wgts["1.decoder.bias"]
    rows = [emb[old[w]] if w in old else emb.mean(0) for w in new_itos]
    wgts["0.encoder.weight"] = wgts["0.encoder_dp.emb.weight"] = wgts["1.decoder.weight"] = torch.stack(rows)
    wgts["1.decoder.bias"] = torch.stack([bias[old[w]] if w in old else bias.mean() for w in new_itos])
    for k in list(wgts):
        if k.replace(".module", "") + "_raw" in wgts:
            del wgts[k]
    return dict(zip(model_keys, wgts.values()))


def test_saved_file_lists_tensors_in_fastai_order(fastai_folder):
    folder, _ = fastai_folder
    assert list(torch.load(folder / LM_FILE)) == fastai_lm_state_order(2)
    with open(folder / ITOS_FILE, "rb") as f:
        assert pickle.load(f) == OLD_ITOS


def test_fastai_loader_puts_every_tensor_in_its_place(fastai_folder):
    folder, lm = fastai_folder
    new_itos = OLD_ITOS[::-1][:3] + list(SPECIALS) + ["movie"]  # other order, one new token
    loaded = fastai_load_pretrained(torch.load(folder / LM_FILE), OLD_ITOS, new_itos, fastai_lm_state_order(2))
    ours = lm.state_dict()
    for name in ("rnns.0.weight_hh_l0_raw", "rnns.0.module.weight_ih_l0", "rnns.1.module.bias_hh_l0"):
        assert torch.equal(loaded[f"0.{name}"], ours[f"encoder.{name}"]), name
    good = new_itos.index("good")
    assert torch.equal(loaded["0.encoder.weight"][good], ours["encoder.embed.weight"][OLD_ITOS.index("good")])
    assert torch.equal(loaded["1.decoder.bias"][good], ours["decoder.bias"][OLD_ITOS.index("good")])


def test_dropouts_are_fastais(fastai_folder):
    # fastai 2.8.12: awd_lstm_lm_config and awd_lstm_clas_config, each *_p times drop_mult; the classifier
    # head's dropouts are (output_p * drop_mult, 0.1): fastai does not scale the second one.
    lm = language_model(12, 4, 6, 3, drop_mult=0.3)
    enc = lm.encoder
    got = [enc.embed_drop.p, enc.input_drop.p, enc.rnns[0].weight_p, enc.hidden_drops[0].p, lm.output_drop.p]
    assert got == pytest.approx([0.02 * 0.3, 0.25 * 0.3, 0.2 * 0.3, 0.15 * 0.3, 0.1 * 0.3])
    clf = text_classifier(12, 2, 4, 6, 3, drop_mult=0.5)
    enc = clf.encoder
    got = [enc.embed_drop.p, enc.input_drop.p, enc.rnns[0].weight_p, enc.hidden_drops[0].p]
    assert got == pytest.approx([0.05 * 0.5, 0.4 * 0.5, 0.5 * 0.5, 0.3 * 0.5])
    assert [m.p for m in clf.head if isinstance(m, torch.nn.Dropout)] == pytest.approx([0.4 * 0.5, 0.1])


def test_fastai_file_wrapped_in_model_key_reads_the_same(fastai_folder):
    folder, _ = fastai_folder
    plain, itos = read_fastai_lm(folder)
    torch.save({"model": torch.load(folder / LM_FILE), "opt": {}}, folder / LM_FILE)
    wrapped, _ = read_fastai_lm(folder)
    assert itos == OLD_ITOS and plain.keys() == wrapped.keys()
    assert all(torch.equal(plain[k], wrapped[k]) for k in plain)


def test_a_backward_model_is_saved_under_fastais_name_and_reads_back(tmp_path, fastai_folder):
    _, lm = fastai_folder
    save_fastai_lm(lm, OLD_ITOS, tmp_path / "bwd", backward=True)
    assert sorted(p.name for p in (tmp_path / "bwd").iterdir()) == [ITOS_FILE, BACKWARD_LM_FILE]  # wt103-bwd's names
    state, itos = read_fastai_lm(tmp_path / "bwd")
    assert itos == OLD_ITOS and torch.equal(state["encoder.embed.weight"], lm.encoder.embed.weight)


def test_a_folder_with_both_or_neither_weights_file_is_refused(fastai_folder):
    folder, lm = fastai_folder
    save_fastai_lm(lm, OLD_ITOS, folder, backward=True)  # now lstm_fwd.pth and lstm_bwd.pth: which one?
    with pytest.raises(FileNotFoundError, match=r"exactly one of lstm_fwd\.pth and lstm_bwd\.pth.*'lstm_fwd\.pth', 'lstm_bwd\.pth'"):
        read_fastai_lm(folder)
    (folder / LM_FILE).unlink(), (folder / BACKWARD_LM_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="holds neither.*get_weights"):
        read_fastai_lm(folder)


def test_pickled_itos_with_code_is_refused(fastai_folder):
    folder, _ = fastai_folder
    with open(folder / ITOS_FILE, "wb") as f:
        pickle.dump([UNK, PAD, print], f)  # a reference to a function, not a string
    with pytest.raises(pickle.UnpicklingError):
        read_fastai_lm(folder)


def _lm_dls(itos):
    docs = [torch.randint(0, len(itos), (60,)) for _ in range(4)]
    return lm_dataloaders(docs, docs[:2], bs=2, seq_len=8, device=CPU)


def test_language_model_learner_matches_the_vocabulary_and_trains(fastai_folder):
    folder, old = fastai_folder
    new_itos = list(SPECIALS) + ["good", "movie", "the"]
    learn = language_model_learner(_lm_dls(new_itos), folder, new_itos, config=QUIET)
    lm = learn.model
    old_emb, new_emb = old.encoder.embed.weight, lm.encoder.embed.weight
    assert lm.encoder.hidden_size == 6 and lm.encoder.n_layers == 2 and new_emb.shape == (len(new_itos), 4)
    for tok in ("good", "the", UNK, PAD):
        assert torch.equal(new_emb[new_itos.index(tok)], old_emb[OLD_ITOS.index(tok)])
    movie = new_itos.index("movie")
    assert torch.allclose(new_emb[movie], old_emb.mean(0))  # a new token starts at the mean row
    assert torch.allclose(lm.decoder.bias[movie], old.decoder.bias.mean())
    assert lm.decoder.weight is lm.encoder.embed.weight  # still tied after loading
    assert torch.equal(lm.encoder.rnns[1].weight_hh_l0_raw, old.encoder.rnns[1].weight_hh_l0_raw)
    before = learn.validate()
    learn.fit_one_cycle(2, 1e-2)
    assert set(before) == {"valid_loss", "accuracy"} and learn.history.valid_loss.iloc[-1] < before["valid_loss"]


def _classifier(encoder, pretrained=True):
    vocab = Vocab(list(SPECIALS) + ["good", "great", "bad", "awful", "film"])
    texts = ["good film", "great great film", "bad film", "awful bad film"] * 4
    ds = TextClassDataset([vocab.encode(tokenize(t)) for t in texts], [1, 1, 0, 0] * 4, ["neg", "pos"])
    dls = text_classifier_dataloaders(ds, ds, vocab, bs=4, device=CPU)
    return text_classifier_learner(dls, encoder, drop_mult=0.1, config=QUIET, pretrained=pretrained)


def test_text_classifier_learner_starts_from_the_encoder():
    torch.manual_seed(0)
    encoder = language_model(len(SPECIALS) + 5, emb_size=4, hidden_size=6, n_layers=2).encoder
    learn = _classifier(encoder.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(learn.model.encoder.state_dict().values(),
                                                 encoder.state_dict().values()))
    assert len(learn.param_groups()) == 4 and learn.activation == "softmax"
    assert learn.model_spec == {"builder": "text_classifier", "args": dict(
        vocab_size=len(SPECIALS) + 5, n_classes=2, emb_size=4, hidden_size=6, n_layers=2, drop_mult=0.1)}
    scratch = _classifier(encoder, pretrained=False)
    assert not torch.equal(scratch.model.encoder.embed.weight, encoder.embed.weight)


def test_classifier_export_round_trip_predicts_a_review(tmp_path):
    torch.manual_seed(0)
    learn = _classifier(language_model(len(SPECIALS) + 5, emb_size=4, hidden_size=6, n_layers=2).encoder)
    learn.path = tmp_path
    learn.fit_one_cycle(3, 3e-2)
    label, probs = learn.predict("A GREAT film")
    loaded = load_learner(learn.export(), device=CPU)
    label2, probs2 = loaded.predict("A GREAT film")
    assert label == label2 and label in ("neg", "pos") and torch.allclose(probs, probs2, atol=1e-6)


def test_generate_is_repeatable_and_neighbours_rank_by_cosine():
    vocab = Vocab(list(SPECIALS) + ["good", "film", "."])
    lm = language_model(len(vocab), 4, 6, 2)
    a, b = (generate(lm, vocab, "Good film", 5, generator=torch.Generator().manual_seed(0)) for _ in range(2))
    assert a == b and a.startswith("Good film")
    emb = torch.zeros(len(vocab), 2)
    good, film, dot = (vocab.stoi[w] for w in ("good", "film", "."))
    emb[good], emb[film], emb[dot] = torch.tensor([1.0, 0.0]), torch.tensor([0.9, 0.1]), torch.tensor([0.5, 0.5])
    assert neighbours(emb, vocab, "good", k=2) == ["film", "."]


def test_half_precision_fastai_file_reads_as_float32_and_saving_makes_the_folder(tmp_path, fastai_folder):
    folder, lm = fastai_folder
    torch.save({k: v.half() for k, v in torch.load(folder / LM_FILE).items()}, folder / LM_FILE)
    state, _ = read_fastai_lm(folder)
    assert all(v.dtype == torch.float32 for v in state.values())
    assert torch.allclose(state["encoder.rnns.1.module.bias_hh_l0"], lm.encoder.rnns[1].module.bias_hh_l0, atol=1e-3)
    nested = tmp_path / "a" / "b"
    assert save_fastai_lm(lm, OLD_ITOS, nested) == nested and save_fastai_lm(lm, OLD_ITOS, nested) == nested
    assert (nested / ITOS_FILE).read_bytes()[:2] == b"\x80\x02"  # pickle protocol 2, as fastai's itos_wt103.pkl
    saved = torch.load(nested / LM_FILE)
    assert all(v.dtype == torch.float32 and v.is_contiguous() and not v.requires_grad for v in saved.values())
    assert torch.equal(saved["0.encoder.weight"], saved["1.decoder.weight"])  # the tied matrix, stored again


class _OpensAFile:
    """Unpickling it would run code: open (and so create) the file it names."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_weights_file_with_code_is_refused_without_running_it(fastai_folder):
    folder, _ = fastai_folder
    ran = folder / "ran.txt"
    torch.save({"model": {"0.encoder.weight": _OpensAFile(ran)}}, folder / LM_FILE)
    with pytest.raises(pickle.UnpicklingError):
        read_fastai_lm(folder)
    assert not ran.exists()


def test_learners_train_with_the_config_they_are_given(fastai_folder):
    folder, _ = fastai_folder
    config = TrainConfig(log=False, grad_clip=1.0)
    assert language_model_learner(_lm_dls(OLD_ITOS), folder, OLD_ITOS, config=config).config is config
    torch.manual_seed(0)
    clf = _classifier(language_model(len(SPECIALS) + 5, emb_size=4, hidden_size=6, n_layers=2).encoder)
    assert clf.config is QUIET and text_classifier_learner(clf.dls, clf.model.encoder, config=config).config is config


def test_three_layer_file_reads_its_layer_count_from_the_keys(tmp_path):
    torch.manual_seed(0)
    lm = language_model(len(OLD_ITOS), emb_size=4, hidden_size=6, n_layers=3)
    state, itos = read_fastai_lm(save_fastai_lm(lm, OLD_ITOS, tmp_path))
    assert itos == OLD_ITOS and "encoder.rnns.2.weight_hh_l0_raw" in state and "decoder.weight" not in state
    assert all(torch.equal(state[k], v) for k, v in lm.state_dict().items() if k != "decoder.weight")


def test_language_model_defaults_are_wt103s():
    lm = language_model(10)
    enc = lm.encoder
    assert (enc.emb_size, enc.hidden_size, enc.n_layers) == (400, 1152, 3)
    got = [enc.embed_drop.p, enc.input_drop.p, enc.rnns[0].weight_p, enc.hidden_drops[0].p, lm.output_drop.p]
    assert got == pytest.approx([0.02, 0.25, 0.2, 0.15, 0.1])  # drop_mult 1
    assert 0.09 < enc.embed.weight.abs().max() <= 0.1
    assert 0.5 < language_model(10, 4, 6, 1, embed_init=1.0).encoder.embed.weight.abs().max() <= 1.0


def test_learners_defaults_drop_mult_clipping_and_groups(fastai_folder):
    folder, _ = fastai_folder
    learn = language_model_learner(_lm_dls(OLD_ITOS), folder, OLD_ITOS)
    assert learn.model.encoder.embed_drop.p == pytest.approx(0.02 * 0.3) and learn.config.grad_clip == 0.25
    assert learn.activation == "softmax" and len(learn.param_groups()) == 3  # 2 LSTM layers, embedding + bias
    assert isinstance(learn.loss_func, torch.nn.CrossEntropyLoss)
    torch.manual_seed(0)
    clf = _classifier(language_model(len(SPECIALS) + 5, emb_size=4, hidden_size=6, n_layers=2).encoder)
    default = text_classifier_learner(clf.dls, clf.model.encoder)
    assert torch.equal(default.model.encoder.embed.weight, clf.model.encoder.embed.weight)  # pretrained by default
    assert default.config.grad_clip is None and default.model_spec["args"]["drop_mult"] == 0.5
    assert default.model.encoder.input_drop.p == pytest.approx(0.4 * 0.5)
    assert isinstance(default.loss_func, torch.nn.CrossEntropyLoss) and default.metrics
    groups = default.param_groups()
    assert groups[0] == [default.model.encoder.embed.weight] and groups[-1] == list(default.model.head.parameters())


def test_generate_defaults_and_never_samples_the_specials():
    torch.manual_seed(0)
    vocab = Vocab(list(SPECIALS) + ["good", "film", "great"])
    lm = language_model(len(vocab), 4, 6, 2)
    with torch.no_grad():  # xxunk, xxpad and xxbos by far the likeliest words; the other markers never
        lm.decoder.bias[: len(SPECIALS)] = torch.tensor([50.0, 50.0, 50.0] + [-50.0] * (len(SPECIALS) - 3))
    text = generate(lm, vocab, "good", generator=torch.Generator().manual_seed(0))
    words = text.split()
    assert len(words) == 31 and set(words) <= {"good", "film", "great"}  # 30 words by default, no xxunk
    assert words[0] == "good" and lm.training is False
    cold = generate(lm, vocab, "good", 20, temperature=0.0, generator=torch.Generator().manual_seed(1))
    assert cold == generate(lm, vocab, "good", 20, temperature=0.0, generator=torch.Generator().manual_seed(2))


def test_generate_samples_with_the_temperature():
    torch.manual_seed(0)
    vocab = Vocab(list(SPECIALS) + ["good", "film", "bad"])
    lm = language_model(len(vocab), 4, 6, 2)
    with torch.no_grad():
        lm.decoder.bias[len(SPECIALS):] = torch.tensor([2.0, 0.0, 0.0])  # "good" likelier than the others

    def share_of_good(temperature):
        words = generate(lm, vocab, "film", 300, temperature, generator=torch.Generator().manual_seed(0)).split()
        return words[1:].count("good") / 300
    assert share_of_good(0.3) > share_of_good(0.8) > share_of_good(3.0)


def test_neighbours_default_to_eight_and_skip_the_word_itself():
    vocab = Vocab(list(SPECIALS) + [f"w{i}" for i in range(12)])
    emb = torch.randn(len(vocab), 3, generator=torch.Generator().manual_seed(0))
    near = neighbours(emb * torch.rand(len(vocab), 1) * 10, vocab, "w0")  # lengths do not matter: cosine
    rows = torch.nn.functional.normalize(emb, dim=1)
    expected = [vocab.itos[i] for i in (rows @ rows[vocab.stoi["w0"]]).argsort(descending=True)[1:9].tolist()]
    assert near == expected and "w0" not in near
    assert neighbours(emb, vocab, "never-seen", k=2) == neighbours(emb, vocab, "xxunk", k=2)


def test_a_float16_file_stores_the_tied_matrix_once_and_reads_back_as_float32(tmp_path):
    torch.manual_seed(0)
    lm = language_model(len(OLD_ITOS), emb_size=4, hidden_size=6, n_layers=2)
    folder = save_fastai_lm(lm, OLD_ITOS, tmp_path, dtype=torch.float16)
    raw = torch.load(folder / "lstm_fwd.pth", weights_only=True)
    assert {v.dtype for v in raw.values()} == {torch.float16}
    tied = [raw[k] for k in ("0.encoder.weight", "0.encoder_dp.emb.weight", "1.decoder.weight")]
    assert len({t.untyped_storage().data_ptr() for t in tied}) == 1  # one matrix on disk, not three
    state, _ = read_fastai_lm(folder)
    assert all(v.dtype == torch.float32 for v in state.values())
    assert torch.equal(state["encoder.embed.weight"], lm.encoder.embed.weight.detach().half().float())
