"""The tokenizer against fastai's own output (a committed fixture), and its rules on known sentences."""
from __future__ import annotations

import difflib
import gzip
import json
from pathlib import Path

import pytest

from coursehelpers.text.tokenize import (PAD_IDX, RULES, SPECIALS, UNK_IDX, apply_rules, fix_html, lowercase,
                                         replace_all_caps, replace_maj, replace_rep, replace_wrep, rm_useless_spaces,
                                         spec_add_spaces, tokenize, tokenize_texts, untokenize)

FIXTURE = Path(__file__).parent / "fixtures" / "tokenizer_fastai.json.gz"


@pytest.fixture(scope="module")
def fastai_rows() -> list[dict]:
    return json.loads(gzip.decompress(FIXTURE.read_bytes()))["texts"]


def test_tokens_match_fastai_on_real_english(fastai_rows):
    # 1,510 texts: Rotten Tomatoes snippets and plots, Python docs, WordNet glosses, Hamlet, edge cases,
    # tokenized by fastai 2.8.12 (tests/fixtures/make_tokenizer_fixture.py). The regex tokenizer this
    # replaced matched 47.2% of them (93.6% of tokens); the issue asks for 99.5%.
    same = [tokenize(r["text"]) == r["tokens"] for r in fastai_rows]
    misses = [r["text"][:80] for r, ok in zip(fastai_rows, same) if not ok]
    assert sum(same) / len(same) >= 0.995, misses[:5]


def test_tokens_match_fastai_token_by_token(fastai_rows):
    matched = total = 0
    for r in fastai_rows:
        blocks = difflib.SequenceMatcher(a=r["tokens"], b=tokenize(r["text"]), autojunk=False).get_matching_blocks()
        matched, total = matched + sum(b.size for b in blocks), total + len(r["tokens"])
    assert matched / total >= 0.999, matched / total


def test_every_source_is_in_the_fixture(fastai_rows):
    sources = {r["source"] for r in fastai_rows}
    assert {"rotten_tomatoes", "python_docs", "wordnet", "hamlet", "edge_cases"} <= sources
    assert len(fastai_rows) >= 1500


def test_case_rules_leave_one_letter_words_unmarked():
    # fastai marks "I" and "A" with nothing: a one-letter word is lowercased only
    assert replace_all_caps("I SAW A GREAT U.S. film") == "i xxup saw a xxup great xxup u.s. film"
    assert replace_maj("I think A Dog is Great, McDonald") == "i think a xxmaj dog is xxmaj great, McDonald"


def test_repetition_rules():
    assert replace_rep("sooo 1000!!!!").split() == ["s", "xxrep", "3", "o", "1", "xxrep", "3", "0", "xxrep", "4", "!"]
    assert replace_wrep("no no no no! it it").split() == ["xxwrep", "4", "no", "!", "it", "it"]
    assert replace_wrep("very, very, very") == "very, very, very"  # separated by commas: not a run


def test_tokenizer_on_html_and_contractions():
    toks = tokenize("Don't miss it.<br /><br />It's 7.5/10 &amp; I'd see it again...")
    # fastai's output, quirks included: "amp;" is replaced before unescaping, so "&amp;" gives "& &";
    # "I'd" is two letters or more, so it gets xxmaj; "<br /><br />" is one "\n\n" token
    assert toks == ["xxbos", "xxmaj", "do", "n't", "miss", "it", ".", "\n\n", "xxmaj", "it", "'s", "7.5", "/",
                    "10", "&", "&", "xxmaj", "i", "'d", "see", "it", "again", "…"]


def test_untokenize_round_trip_and_stray_markers():
    text = "I LOVED it!!!! Don't miss it, it's very very very good."
    assert untokenize(tokenize(text)) == "i LOVED it!!!! Don't miss it, it's very very very good."  # "I" loses its case
    assert untokenize(["xxbos", "xxup", "xxmaj", "word", "xxunk", "xxpad", "\n\n", "xxmaj"]) == "Word xxunk"


def test_tokenize_texts_in_processes_matches_serial():
    texts = ["One film.", "Two FILMS!!!", "it it it"]
    assert tokenize_texts(texts, processes=2) == tokenize_texts(texts)


def test_specials_open_every_vocabulary_in_fastais_order():
    # WT103's itos starts with these, in this order: a pretrained model's rows 0..8 mean these tokens
    assert SPECIALS == ("xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj")
    assert (SPECIALS[UNK_IDX], SPECIALS[PAD_IDX]) == ("xxunk", "xxpad")


def test_fix_html_repairs_each_web_escape():
    assert fix_html("a #39; b amp; c #146; nbsp;d #36;5") == "a ' b & c '  d $5"
    assert fix_html("x\\ny quot;q<br />r \\\"s <unk> 1 @.@ 5 a @-@ b wait...") == \
        "x\ny 'q\nr \"s xxunk 1.5 a-b wait …"
    assert fix_html("&lt;b&gt; &eacute;") == "<b> é"  # the rest: html.unescape


def test_spacing_rules_split_slashes_and_squeeze_spaces_but_keep_newlines():
    assert spec_add_spaces("7/10 #1 a\\b") == "7 / 10  # 1 a \\ b"
    assert rm_useless_spaces("a   b \n\n  c  d") == "a b \n\n c d"
    assert lowercase("  Hello World \n") == "xxbos hello world"


def test_rules_run_in_fastais_order():
    assert [r.__name__ for r in RULES] == ["fix_html", "replace_rep", "replace_wrep", "spec_add_spaces",
                                           "rm_useless_spaces", "replace_all_caps", "replace_maj", "lowercase"]
    assert apply_rules("Hello   WORLD!!!! 7/10 &amp; go go go") == \
        "xxbos xxmaj hello xxup world xxrep 4 ! 7 / 10 && xxwrep 3 go"


def test_whitespace_tokens_show_their_spaces_as_a_bar():
    # spaCy keeps the whitespace after a newline in the newline's token; fastai shows its spaces as ▁
    assert tokenize("a\n b") == ["xxbos", "a", "\n▁", "b"]
    assert tokenize("x  \t y") == ["xxbos", "x", "\t▁", "y"]


def test_untokenize_glues_contractions_and_punctuation_back():
    tokens = "xxbos he is n't here , it 's ok ; we 're : we 've ! we 'll ? he 'd ( i 'm ) .".split()
    assert untokenize(tokens) == "he isn't here, it's ok; we're: we've! we'll? he'd ( i'm)."
    assert untokenize("xxmaj no xxrep 3 ! xxwrep 3 so xxup big".split()) == "No!!! so so so BIG"


def test_tokenize_texts_in_processes_keeps_the_order_across_chunks():
    texts = [f"Text number {i}." for i in range(4001)]  # three chunks of up to 2,000
    tokens = tokenize_texts(texts, processes=2)
    assert len(tokens) == 4001 and all(tokens[i] == tokenize(texts[i]) for i in (0, 1999, 2000, 3999, 4000))
    assert tokens == tokenize_texts(texts)
