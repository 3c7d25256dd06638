"""The tokenizer of coursehelpers.text.tokenize on sentences with known tokens."""
from __future__ import annotations

from coursehelpers.text.tokenize import tokenize, tokenize_texts, untokenize


def test_tokenizer_specials():
    assert tokenize("This is GREAT!!!! I mean it it it.") == [
        "xxbos", "xxmaj", "this", "is", "xxup", "great", "xxrep", "4", "!", "xxmaj", "i", "mean", "xxwrep", "3",
        "it", "."]


def test_tokenizer_html_clitics_and_numbers():
    toks = tokenize("Don't miss it.<br /><br />It's 7.5/10 &amp; I\u2019d see it again")
    assert "<" not in toks and "br" not in toks
    assert toks[:5] == ["xxbos", "xxmaj", "do", "n't", "miss"]
    assert ["it", "'s", "7.5", "/", "10", "&"] == toks[toks.index("'s") - 1: toks.index("&") + 1]
    assert "'d" in toks  # the curly quote was straightened


def test_tokenizer_keeps_long_numbers_and_marks_repeated_letters():
    assert tokenize("1000 sooo good") == ["xxbos", "1000", "s", "xxrep", "3", "o", "good"]


def test_untokenize_round_trip_and_stray_markers():
    text = "I LOVED it!!!! Don't miss it, it's very very very good."
    assert untokenize(tokenize(text)) == text
    assert untokenize(["xxbos", "xxup", "xxmaj", "word", "xxunk", "xxpad", "xxmaj"]) == "Word xxunk"


def test_tokenize_texts_in_processes_matches_serial():
    texts = ["One film.", "Two FILMS!!!", "it it it"]
    assert tokenize_texts(texts, processes=2) == tokenize_texts(texts)
