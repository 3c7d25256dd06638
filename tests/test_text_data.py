"""Vocabulary, language-model streams and classifier batches of coursehelpers.text.data."""
from __future__ import annotations

import pytest
import torch

from coursehelpers.text.data import (LMStreams, SortishBatches, TextClassDataset, TextPrepare, Vocab, lm_dataloaders,
                                     pad_collate, text_classifier_dataloaders, texts_from_folders)
from coursehelpers.text.tokenize import PAD_IDX, SPECIALS, UNK_IDX, tokenize

CPU = torch.device("cpu")


def test_vocab_specials_first_min_freq_max_vocab():
    docs = [["b", "a", "a", "c"], ["a", "b", "d"]]
    v = Vocab.build(docs, min_freq=2)
    assert v.itos[: len(SPECIALS)] == list(SPECIALS) and v.itos[len(SPECIALS):] == ["a", "b"]
    assert Vocab.build(docs, min_freq=1, max_vocab=len(SPECIALS) + 1).itos[-1] == "a"
    # ties are broken alphabetically, so the ids never depend on input order
    assert Vocab.build([["y", "x"]], min_freq=1).itos == Vocab.build([["x", "y"]], min_freq=1).itos
    with pytest.raises(ValueError, match="must start with"):
        Vocab(["a", "b"])


def test_numericalise_round_trip_and_unknown():
    toks = tokenize("The film is good. The film is bad.")
    v = Vocab.build([toks], min_freq=1)
    ids = v.encode(toks)
    assert ids.dtype == torch.long and v.decode(ids) == toks
    assert v.encode(["never-seen"]).tolist() == [UNK_IDX]


def test_texts_from_folders(tmp_path):
    for label, name in ((0, "neg"), (1, "pos")):
        (tmp_path / name).mkdir()
        for i in (2, 1):
            (tmp_path / name / f"{i}.txt").write_text(f"{name} {i}")
    assert texts_from_folders(tmp_path) == (["neg 1", "neg 2", "pos 1", "pos 2"], [0, 0, 1, 1])
    with pytest.raises(FileNotFoundError, match="No .txt files"):
        texts_from_folders(tmp_path, classes=("neg", "other"))


def _docs():
    return [torch.arange(0, 37), torch.arange(100, 150), torch.arange(200, 213)]


@pytest.mark.parametrize("shuffle", [False, True])
def test_lm_targets_are_inputs_shifted_and_streams_contiguous(shuffle):
    bs = 4
    streams = LMStreams(_docs(), bs=bs, seq_len=5, shuffle=shuffle)
    batches = list(streams)
    assert len(batches) == len(streams)
    xs = torch.cat([x for x, _ in batches], dim=1)
    ys = torch.cat([y.view(bs, -1) for _, y in batches], dim=1)
    assert torch.equal(xs[:, 1:], ys[:, :-1])  # target = next input, across batch boundaries too
    joined = torch.cat([xs, ys[:, -1:]], dim=1).reshape(-1)  # the rows, one after the other
    if not shuffle:
        assert torch.equal(joined, torch.cat(_docs())[: joined.numel()])
    else:
        assert len(set(joined.tolist())) == joined.numel()  # nothing read twice


def test_lm_lengths_vary_when_shuffled_but_batch_count_is_fixed():
    docs = [torch.arange(i * 1000, i * 1000 + 700) for i in range(10)]
    streams = LMStreams(docs, bs=2, seq_len=40, shuffle=True, seed=1)
    lengths = [x.shape[1] for x, _ in streams]
    assert len(set(lengths)) > 3 and len(lengths) == len(streams) and sum(lengths) == streams.n_cols
    assert set(x.shape[1] for x, _ in list(LMStreams(docs, bs=2, seq_len=40))[:-1]) == {40}
    with pytest.raises(ValueError, match="too few"):
        LMStreams([torch.arange(3)], bs=4)


def test_lm_dataloaders_follow_the_seed():
    def first_batches(seed):
        dls = lm_dataloaders(_docs(), _docs(), bs=2, seq_len=6, seed=seed, device=CPU)
        return [x for x, _ in dls.train], [x for x, _ in dls.train], [x for x, _ in dls.valid]
    a, b = first_batches(0), first_batches(0)
    assert all(torch.equal(x, y) for x, y in zip(a[0], b[0]))  # a fresh DataLoaders repeats its order
    assert not all(torch.equal(x, y) for x, y in zip(a[0], a[1]))  # each epoch reshuffles
    assert not all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a[0], first_batches(1)[0]))
    assert [x.shape[1] for x in a[2]] == [6] * 8 + [1]  # validation: in order, fixed windows


def test_pad_collate_pads_at_the_end():
    x, y = pad_collate([(torch.tensor([5, 6, 7]), 0), (torch.tensor([8]), 1)])
    assert x.tolist() == [[5, 6, 7], [8, PAD_IDX, PAD_IDX]] and y.tolist() == [0, 1]


def test_validation_batches_are_sorted_longest_first_and_map_back():
    docs = [torch.full((n,), 5 + n) for n in (3, 9, 4, 8, 1, 7)]
    ds = TextClassDataset(docs, [0, 1, 0, 1, 0, 1], ["neg", "pos"], max_len=8)
    dls = text_classifier_dataloaders(ds, ds, Vocab(list(SPECIALS)), bs=1, device=CPU)  # valid bs 2
    batches = list(dls.valid)
    assert [b[0].shape[1] for b in batches] == [8, 7, 3]  # truncated to max_len, padded to the longest
    assert batches[1][0].tolist() == [[12] * 7, [9] * 4 + [PAD_IDX] * 3]
    order = [i for batch in dls.valid_dl.batch_sampler for i in batch]
    assert torch.cat([y for _, y in batches]).tolist() == [ds.labels[i] for i in order]
    assert order == [1, 3, 5, 2, 0, 4]


def test_shuffled_batches_group_similar_lengths_and_drop_the_partial_one():
    ds = TextClassDataset([torch.full((n,), 5) for n in range(1, 206)], [0] * 205)
    sampler = SortishBatches(ds, 10, shuffle=True, generator=torch.Generator().manual_seed(0), drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 20 and all(len(b) == 10 for b in batches)
    assert len({i for b in batches for i in b}) == 200
    spread = sum(max(ds.docs[i].numel() for i in b) - min(ds.docs[i].numel() for i in b) for b in batches)
    assert spread < 0.2 * 20 * 100  # random batches would span about 150 tokens each
    assert batches != list(sampler)  # a new order every epoch


def test_text_prepare_encodes_one_text_like_the_training_data():
    vocab = Vocab(list(SPECIALS) + ["good", "film"])
    prepare = TextPrepare(vocab, max_len=4)
    (ids,) = prepare.encode("A GOOD film, good")
    assert ids.tolist() == [vocab.encode(tokenize("A GOOD film, good")[:4]).tolist()]
    rebuilt = TextPrepare.from_config(prepare.config())
    assert prepare.config() == {"kind": "text", "itos": vocab.itos, "max_len": 4}
    assert torch.equal(rebuilt.encode("good film")[0], prepare.encode("good film")[0])
