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


def test_vocab_defaults_and_limits():
    docs = [["a"] * 3 + ["b"] * 2 + ["xxmaj"] * 5]
    assert Vocab.build(docs).itos == list(SPECIALS) + ["a"]  # min_freq 3 by default; specials never twice
    assert Vocab.build(docs, min_freq=1, max_vocab=4).itos == list(SPECIALS)  # never fewer than the specials
    assert len(Vocab.build([[str(i) for i in range(70000)]], min_freq=1)) == 60000  # max_vocab 60,000 by default
    for itos in (["xxunk", "b"], ["a", "xxpad"]):
        with pytest.raises(ValueError):
            Vocab(itos)
    v = Vocab(list(SPECIALS) + ["good"])
    assert len(v) == 10 and v.decode([9, 0, 1]) == ["good", "xxunk", "xxpad"]  # a list decodes like a tensor


def test_texts_from_folders_reads_utf8_and_imdbs_classes_by_default(tmp_path):
    for name in ("neg", "pos"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "1.txt").write_bytes(f"{name}: café – naïve".encode("utf-8"))
    assert texts_from_folders(tmp_path) == (["neg: café – naïve", "pos: café – naïve"], [0, 1])


def test_lm_streams_cut_every_token_but_one_target_into_rows_of_seq_len():
    streams = LMStreams([torch.arange(50), torch.arange(50, 81)], bs=4, seq_len=6)  # 81 tokens: rows of 20
    assert streams.n_cols == 19 and len(streams) == 4 and streams.boundaries() == [0, 6, 12, 18, 19]
    batches = list(streams)
    assert batches[0][0].tolist() == [list(range(r * 20, r * 20 + 6)) for r in range(4)]
    assert batches[-1][0].tolist() == [[r * 20 + 18] for r in range(4)] and batches[-1][1].tolist() == [19, 39, 59, 79]
    assert LMStreams([torch.arange(8)], bs=4).n_cols == 1  # 2 tokens a row: one input, one target
    with pytest.raises(ValueError):
        LMStreams([torch.arange(7)], bs=4)


def test_lm_streams_defaults_are_ulmfits():
    streams = LMStreams([torch.arange(64 * 200)])
    assert (streams.bs, streams.seq_len, streams.shuffle) == (64, 72, False)
    assert [x.shape for x, _ in streams] == [(64, 72), (64, 72), (64, 55)]
    seeded = [LMStreams([torch.arange(3000)], bs=2, seq_len=20, shuffle=True).boundaries() for _ in range(2)]
    assert seeded[0] == seeded[1] == LMStreams([torch.arange(3000)], bs=2, seq_len=20, shuffle=True,
                                               seed=0).boundaries()


def test_shuffled_windows_are_mostly_seq_len_sometimes_half_with_noise():
    # AWD-LSTM: seq_len with probability 0.95, else seq_len / 2, plus N(0, 5), rescaled to tile the stream
    streams = LMStreams([torch.arange(200_001)], bs=1, seq_len=100, shuffle=True, seed=0)
    cuts = torch.tensor(streams.boundaries())
    lengths = (cuts[1:] - cuts[:-1]).float()
    assert len(lengths) == 2000 and cuts[0] == 0 and cuts[-1] == 200_000
    short, full = lengths[lengths < 75], lengths[lengths >= 75]
    assert 0.03 < len(short) / len(lengths) < 0.07
    assert 0.45 < short.mean() / full.mean() < 0.55
    assert 4.5 < full.std() < 5.8 and 98 < full.mean() < 106


def test_shuffled_windows_follow_the_seed_exactly():
    # pinned: a seed gives the same windows on every machine (the lesson's numbers repeat)
    streams = LMStreams([torch.arange(1000)], bs=2, seq_len=20, shuffle=True, seed=0)
    assert streams.boundaries() == [0, 21, 43, 64, 86, 105, 128, 148, 173, 189, 212, 229, 250, 260, 285, 304, 336,
                                    365, 375, 388, 400, 418, 436, 465, 481, 499]
    # seq_len 3: a window is at least 5 before rescaling, so the noise never makes one empty or negative
    short = LMStreams([torch.arange(4000)], bs=1, seq_len=3, shuffle=True, seed=0)
    cuts = torch.tensor(short.boundaries())
    assert cuts[:12].tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 21, 23, 26, 28]
    assert (cuts[1:] - cuts[:-1]).min() >= 2 and len(list(short)) == len(short) == 1333


def test_lm_dataloaders_shuffle_training_only_with_the_batch_size_and_seed():
    docs = [torch.arange(i * 100, i * 100 + 50) for i in range(8)]
    dls = lm_dataloaders(docs, docs, bs=4, seq_len=10, seed=5, device=CPU)
    train, valid = dls.train_ds, dls.valid_ds
    assert (train.bs, train.seq_len, train.shuffle, valid.bs, valid.seq_len, valid.shuffle) == (4, 10, True, 4, 10,
                                                                                                 False)
    assert train.boundaries() == LMStreams(docs, 4, 10, shuffle=True, seed=5).boundaries()


def test_classifier_dataset_truncates_to_max_len_and_checks_its_labels():
    ds = TextClassDataset([torch.arange(2000), torch.arange(3)], [1, 0])
    assert len(ds) == 2 and ds.classes is None and ds.max_len == 1440
    assert ds[0][0].tolist() == list(range(1440)) and ds[0][1] == 1 and ds[1][0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        TextClassDataset([torch.arange(3)], [0, 1])


def test_sortish_training_batches_sort_within_chunks_of_50_batches():
    def pairs(n, seed):
        ds = TextClassDataset([torch.zeros(n_tok) for n_tok in torch.randperm(n, generator=torch.Generator()
                                                                             .manual_seed(9)).tolist()], [0] * n)
        batches = SortishBatches(ds, 2, shuffle=True, generator=torch.Generator().manual_seed(seed), drop_last=False)
        by_length = sorted(range(n), key=lambda i: -len(ds.docs[i]))
        return {frozenset(b) for b in batches}, {frozenset(by_length[i:i + 2]) for i in range(0, n, 2)}
    for seed in (0, 1):
        got, sorted_pairs = pairs(100, seed)  # 50 batches' worth: one chunk, sorted as a whole
        assert got == sorted_pairs
    got, sorted_pairs = pairs(102, 0)  # 51 batches' worth: two chunks, each sorted on its own
    assert got != sorted_pairs and len(got) == 51 and set().union(*got) == set(range(102))  # each text once


def test_sortish_batches_keep_the_partial_batch_unless_told_to_drop_it():
    ds = TextClassDataset([torch.zeros(n) for n in (3, 1, 2, 5, 4)], [0] * 5)
    keep = SortishBatches(ds, 2, shuffle=False, generator=torch.Generator(), drop_last=False)
    assert len(keep) == 3 and list(keep) == [[3, 4], [0, 2], [1]]
    drop = SortishBatches(ds, 2, shuffle=False, generator=torch.Generator(), drop_last=True)
    assert len(drop) == 2 and list(drop) == [[3, 4], [0, 2]]


def test_text_prepare_defaults_and_classifier_loaders_use_the_datasets_max_len_and_classes():
    vocab = Vocab(list(SPECIALS) + ["good"])
    assert TextPrepare(vocab).max_len == 1440
    ds = TextClassDataset([torch.arange(9, 10)] * 4, [0, 1, 0, 1], ["neg", "pos"], max_len=3)
    dls = text_classifier_dataloaders(ds, ds, vocab, bs=2, device=CPU)
    assert dls.classes == ["neg", "pos"] and dls.prepare.max_len == 3
    assert dls.prepare.encode("good bad " * 5)[0].tolist() == [[2, 9, 0]]  # xxbos good xxunk: 3 tokens


def test_vocab_ranks_by_frequency_and_encodes_as_long_ids_even_when_empty():
    assert Vocab.build([["b", "a", "b", "c", "c", "c"]], min_freq=1).itos[len(SPECIALS):] == ["c", "b", "a"]
    empty = Vocab(list(SPECIALS)).encode([])  # an empty text still indexes an embedding
    assert empty.dtype == torch.long and empty.shape == (0,)


def test_shuffled_lm_streams_reorder_whole_texts_each_pass():
    docs = [torch.arange(i * 100, i * 100 + 20) for i in range(10)]
    streams = LMStreams(docs, bs=1, seq_len=7, shuffle=True, seed=0)

    def text_order():
        joined = torch.cat([x for x, _ in streams], dim=1).flatten().tolist()
        starts = [t // 100 for t in joined if t % 100 == 0]
        assert joined == [t for k in starts for t in range(k * 100, k * 100 + 20)][: len(joined)]  # texts whole
        return starts
    first, second = text_order(), text_order()
    assert sorted(first) == list(range(10)) and first != list(range(10)) and first != second


def test_tiny_shuffled_windows_never_make_an_empty_batch():
    # seq_len 1: a window rescaled below half a token rounds to nothing, and is skipped
    batches = list(LMStreams([torch.arange(400)], bs=1, seq_len=1, shuffle=True, seed=0))
    assert all(x.shape[1] >= 1 for x, _ in batches) and sum(x.shape[1] for x, _ in batches) == 399


def test_lm_dataloaders_defaults():
    docs = [torch.arange(64 * 150)]
    dls = lm_dataloaders(docs, docs, device=CPU)
    assert (dls.bs, dls.train_ds.bs, dls.train_ds.seq_len) == (64, 64, 72)
    assert dls.train_ds.boundaries() == LMStreams(docs, shuffle=True, seed=0).boundaries()
    assert lm_dataloaders(docs, docs, bs=4, device=CPU).bs == 4


def test_labels_come_out_as_long_for_the_loss_whatever_their_integer_type():
    import numpy as np

    ds = TextClassDataset([torch.arange(3), torch.arange(2)], np.array([1, 0], dtype=np.int32))
    x, y = pad_collate([ds[0], ds[1]])
    assert x.dtype == torch.long and y.dtype == torch.long and y.tolist() == [1, 0]


def test_sortish_training_batches_mix_the_texts_and_follow_their_generator():
    ds = TextClassDataset([torch.zeros(4)] * 40, [0] * 40)  # all one length: sorting keeps the shuffled order

    def batches(seed):
        return list(SortishBatches(ds, 4, shuffle=True, generator=torch.Generator().manual_seed(seed), drop_last=True))
    assert batches(0) == batches(0) != batches(1)
    assert {tuple(sorted(b)) for b in batches(0)} != {tuple(range(i, i + 4)) for i in range(0, 40, 4)}


def test_sortish_validation_sorts_everything_and_keeps_the_dataset_order_among_equals():
    ds = TextClassDataset([torch.zeros(n % 7 + 1) for n in range(120)], [0] * 120)
    order = [i for b in SortishBatches(ds, 2, shuffle=False, generator=torch.Generator(), drop_last=False) for i in b]
    assert order == sorted(range(120), key=lambda i: -(i % 7))  # longest first over all 120, ties in order


def test_text_prepare_rebuilt_from_its_config_keeps_max_len():
    prepare = TextPrepare.from_config(TextPrepare(Vocab(list(SPECIALS)), max_len=4).config())
    assert prepare.max_len == 4 and prepare.encode("one two three four five")[0].shape == (1, 4)


def test_classifier_loaders_default_batch_size_and_seed():
    ds = TextClassDataset([torch.zeros(n % 5 + 1) for n in range(300)], [0] * 300)
    vocab = Vocab(list(SPECIALS))

    def order(**kw):
        return [b for b in text_classifier_dataloaders(ds, ds, vocab, device=CPU, **kw).train_dl.batch_sampler]
    first = order()
    assert len(first) == 4 and all(len(b) == 64 for b in first)  # bs 64 by default; the partial batch dropped
    assert first == order(seed=0) != order(seed=1)
