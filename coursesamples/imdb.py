"""The bundled IMDB sample: short synthetic movie reviews in the real ``imdb/`` layout.

``make_sample(dest)`` writes, like the real archive (Maas et al. 2011):
``train/{pos,neg}/<id>_<rating>.txt`` and ``test/{pos,neg}/...`` (positive ratings
7-10, negative 1-4), ``unsup/<id>_0.txt`` (unlabelled), ``imdb.vocab`` (one word a
line, most frequent first) and ``README``.

The reviews come from a small grammar written for this course. Each review has a
hidden rating; its sentiment is carried by adjectives ("superb", "dull", drawn with
Zipf weights so a long tail is rare), phrases ("a waste of time"), intensifiers that
each side favours ("truly superb", "utterly dull"), and constructions whose meaning
depends on word order: negation ("The plot is not really clever"), scope ("Nobody
would say that the acting is superb"), verdicts ("The critics said it was dull, and
they were wrong"), contrast and concession ("Although the music is lovely, the film
as a whole is a bore"). In about a third of the reviews most opinions are phrased
that way, with the opposite side's words in the same local contexts as plain
opinions use them, so a bag of words (even of word pairs) is fooled by them while a
model that reads in order need not be. Neutral plot filler, names and everyday
English fill the rest. Everything is drawn from seeded generators and written in
sorted order: the bytes are the same on every run.

Example:
    >>> import tempfile; dest = Path(tempfile.mkdtemp())
    >>> make_sample(dest); sorted(p.name for p in dest.iterdir())
    ['README', 'imdb.vocab', 'test', 'train', 'unsup']
"""
from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

SEED = 20240605
SIZES = {"train": 1000, "test": 500, "unsup": 1000}  # reviews per split (labelled splits: half pos)
HARD_SHARE = 0.35  # reviews whose opinions mostly come as negations, verdicts and contrasts
TRICKY_IN_HARD, TRICKY_IN_EASY = 0.85, 0.05  # chance that one opinion is phrased "against" its words

# Most frequent first: words are drawn with Zipf weights 1/rank, so the first few are common
# and the tail is rare (a word's polarity is then easier to learn from unlabelled text than
# from the few labelled reviews that use it).
POS = {
    "strong": ["superb", "brilliant", "wonderful", "excellent", "outstanding", "magnificent",
               "stunning", "masterful", "unforgettable", "extraordinary", "terrific", "marvellous",
               "sublime", "dazzling", "exquisite", "breathtaking", "flawless", "luminous"],
    "mild": ["good", "fine", "enjoyable", "charming", "funny", "moving", "solid", "clever",
             "pleasant", "touching", "decent", "lovely", "gripping", "fresh", "smart", "likeable",
             "witty", "heartfelt", "elegant", "engaging", "thrilling", "delightful", "graceful",
             "inventive", "compelling", "vivid", "tender", "warm", "uplifting", "riveting",
             "poignant", "playful", "assured", "sincere"],
}
NEG = {
    "strong": ["awful", "terrible", "dreadful", "horrible", "atrocious", "abysmal", "unbearable",
               "painful", "pathetic", "appalling", "laughable", "worthless", "dismal", "inept",
               "unwatchable", "excruciating", "insufferable", "ghastly"],
    "mild": ["bad", "dull", "boring", "weak", "poor", "bland", "clumsy", "tedious", "silly",
             "predictable", "forgettable", "flat", "messy", "slow", "lazy", "stale", "shallow",
             "hollow", "cheap", "lifeless", "pointless", "annoying", "muddled", "sluggish",
             "wooden", "tiresome", "plodding", "leaden", "confused", "soulless", "contrived",
             "shoddy", "clunky", "grating"],
}
POS_INTENSIFIERS = ["truly", "simply", "absolutely", "wonderfully", "genuinely"]
NEG_INTENSIFIERS = ["utterly", "painfully", "terribly", "hopelessly", "awfully"]
POS_NOUNS = ["a gem", "a joy", "a triumph", "a treat", "a delight", "a masterpiece", "a pleasure",
             "a real surprise", "a classic", "a winner"]
NEG_NOUNS = ["a mess", "a disaster", "a bore", "a chore", "a letdown", "a waste of time",
             "a failure", "a disappointment", "a train wreck", "an insult"]
POS_VERBS = ["loved", "enjoyed", "adored", "liked", "admired", "savoured"]
NEG_VERBS = ["hated", "disliked", "resented", "regretted", "endured", "loathed"]
POS_BASE = ["love", "enjoy", "like", "admire"]
NEG_BASE = ["hate", "dislike", "regret", "resent"]
POS_ADVICE = ["Do not miss it.", "I would recommend it to anyone.", "Go and see it.",
              "It is well worth your time.", "See it with friends.", "I will watch it again."]
NEG_ADVICE = ["Avoid it.", "Save your money.", "Skip this one.", "Stay at home.",
              "I will never watch it again.", "Do yourself a favour and pick another film."]
ASPECTS = ["the acting", "the script", "the story", "the music", "the direction", "the dialogue",
           "the ending", "the cast", "the camera work", "the pacing", "the plot", "the humour",
           "the effects", "the editing", "the lead performance", "the score", "the first hour",
           "the set design", "the soundtrack", "the final scene"]
ADVERBS = ["", "", "", "really ", "quite ", "very ", "rather ", "so "]
OPINION = ["I think", "I feel", "In my opinion,", "Honestly,", "To be fair,", "Frankly,", "I must say"]
OTHERS = ["The critics", "My friends", "Everyone", "The papers", "My brother", "The reviews",
          "People online", "My wife", "My husband", "The trailer"]

FIRST = ["Anna", "Ben", "Clara", "David", "Elena", "Frank", "Grace", "Henry", "Iris", "Jack",
         "Karen", "Leo", "Maria", "Nick", "Olivia", "Paul", "Rosa", "Sam", "Tom", "Vera", "Walter",
         "Zoe", "Hugo", "Nina", "Oscar", "Lucy", "Max", "Emma", "Victor", "Alice"]
LAST = ["Adams", "Baker", "Carter", "Dixon", "Ellis", "Foster", "Gray", "Hughes", "Irving",
        "Jones", "Keller", "Lane", "Moore", "Nolan", "Owens", "Price", "Quinn", "Reed", "Stone",
        "Turner", "Vance", "Walsh", "Young", "Fischer", "Romano", "Novak", "Berg", "Silva"]
GENRES = ["thriller", "comedy", "drama", "western", "horror film", "musical", "war film",
          "romance", "science fiction film", "crime story", "family film", "mystery"]
JOBS = ["teacher", "detective", "nurse", "farmer", "soldier", "lawyer", "singer", "pilot",
        "writer", "doctor", "thief", "journalist", "student", "painter", "sailor", "priest"]
PLOTS = ["returns home after many years", "tries to save the family business",
         "falls in love with a stranger", "searches for a missing sister", "plans one last job",
         "must solve a murder in a small town", "is sent to a remote island",
         "discovers a secret about the past", "has to win back an old friend",
         "travels across the country by train", "joins a group of rebels",
         "tries to stop a war", "loses everything in one night", "starts a new life in the city"]
PLACES = ["a small town", "London", "Paris", "New York", "the desert", "a quiet village",
          "a big city", "the mountains", "an old house", "a ship", "Rome", "the countryside"]
ROLES = ["the villain", "the hero's mother", "a corrupt police officer", "the best friend",
         "a retired boxer", "the mayor", "a young artist", "the narrator"]
DECADES = ["twenties", "thirties", "fifties", "sixties", "seventies", "eighties", "nineties"]
TITLE_A = ["Silent", "Last", "Broken", "Golden", "Dark", "Long", "Lost", "Red", "Hidden", "Cold",
           "Little", "Wild", "Empty", "Burning"]
TITLE_B = ["River", "Summer", "Road", "Harbour", "Promise", "Garden", "Train", "Winter", "Mirror",
           "Island", "Letter", "Sky", "Bridge", "Storm"]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _zipf(rng: random.Random, words: list[str]) -> str:
    return rng.choices(words, weights=[1 / (rank + 1) for rank in range(len(words))])[0]


def _adj(rng: random.Random, polarity: int, strong: bool) -> str:
    """One adjective, or two joined by "and" (always of the same polarity), often intensified."""
    words = POS if polarity > 0 else NEG
    pick = lambda: _zipf(rng, words["strong"] if strong and rng.random() < 0.7 else words["mild"])
    first = pick()
    if rng.random() < 0.5:  # each side has its own intensifiers, as in real reviews
        first = f"{rng.choice(POS_INTENSIFIERS if polarity > 0 else NEG_INTENSIFIERS)} {first}"
    if rng.random() < 0.4:
        second = pick()
        if second != first:
            return f"{first} and {second}"
    return first


def _noun(rng: random.Random, polarity: int) -> str:
    return rng.choice(POS_NOUNS if polarity > 0 else NEG_NOUNS)


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def neutral_sentence(rng: random.Random, title: str) -> str:
    """Plot filler that says nothing about quality."""
    forms = [
        lambda: f"The story follows {_name(rng)}, a {rng.choice(JOBS)} who {rng.choice(PLOTS)}.",
        lambda: f"It is set in {rng.choice(PLACES)} in the {rng.choice(DECADES)}.",
        lambda: f"{_name(rng)} plays {rng.choice(ROLES)}.",
        lambda: f"{title} is a {rng.choice(GENRES)} directed by {_name(rng)}.",
        lambda: f"I saw it last {rng.choice(['week', 'night', 'weekend', 'year', 'month'])} "
                f"with {rng.choice(['my family', 'a friend', 'my parents', 'some friends'])}.",
        lambda: f"The film runs for about {rng.choice([90, 95, 100, 110, 120, 130, 150])} minutes.",
        lambda: f"It was made in {rng.choice(range(1950, 2011))} and is based on a "
                f"{rng.choice(['novel', 'true story', 'play', 'short story'])}.",
        lambda: f"Most of the film takes place in {rng.choice(PLACES)}.",
    ]
    return rng.choice(forms)()


def plain_sentence(rng: random.Random, p: int, strong: bool) -> str:
    """Sentiment ``p`` said with words of the same polarity."""
    adj, adverb, aspect = _adj(rng, p, strong), rng.choice(ADVERBS), rng.choice(ASPECTS)
    forms = [
        lambda: f"{_cap(aspect)} is {adverb}{adj}.",
        lambda: f"{rng.choice(OPINION)} it is {_noun(rng, p)}.",
        lambda: f"I would say it is {_noun(rng, p)}.",
        lambda: f"I {rng.choice(POS_VERBS if p > 0 else NEG_VERBS)} "
                f"{rng.choice(['every minute of it', 'the whole thing', 'this film', 'it'])}.",
        lambda: f"You will {rng.choice(POS_BASE if p > 0 else NEG_BASE)} every single minute.",
        lambda: f"{_name(rng)} gives {_a(adj)} performance.",
        lambda: f"What {_a(adj)} film.",
        lambda: f"{_cap(aspect)} and {rng.choice(ASPECTS)} are both {adj}.",
        lambda: f"{rng.choice(OTHERS)} said it was {adj}, and they were right.",
        lambda: f"{rng.choice(OTHERS)} will tell you it is {_noun(rng, p)}, and they are right.",
        lambda: f"You will find {aspect} {adverb}{adj}.",
        lambda: ("It is hard to find anything wrong with it." if p > 0
                 else "It is hardly worth a look, let alone a ticket."),
    ]
    return rng.choice(forms)()


def tricky_sentence(rng: random.Random, p: int, strong: bool) -> str:
    """Sentiment ``p`` said with words of the OPPOSITE polarity, in the same local contexts as
    `plain_sentence` uses them: only the order and scope of the words carry the meaning."""
    q, aspect = -p, rng.choice(ASPECTS)
    adj, adverb = _adj(rng, q, strong), rng.choice(ADVERBS)
    forms = [
        lambda: f"{_cap(aspect)} is not {rng.choice([a for a in ADVERBS if a])}{adj}.",
        lambda: f"Nobody would say that {aspect} is {adverb}{adj}.",
        lambda: f"{rng.choice(OTHERS)} said it was {adj}, and they were wrong.",
        lambda: f"{rng.choice(OTHERS)} will tell you it is {_noun(rng, q)}, and they are wrong.",
        lambda: f"I doubt you will find {aspect} {adverb}{adj}.",
        lambda: f"I would not say it is {_noun(rng, q)}.",
        lambda: f"Nobody will {rng.choice(POS_BASE if q > 0 else NEG_BASE)} every single minute.",
        lambda: f"Although {aspect} is {_adj(rng, q, False)}, the film as a whole is {_noun(rng, p)}.",
        lambda: f"{_cap(aspect)} is {_adj(rng, q, False)}, but {rng.choice(ASPECTS)} is "
                f"{adverb}{_adj(rng, p, strong)}.",
    ]
    return rng.choice(forms)()


def review(rng: random.Random, rating: int) -> str:
    """One review for a rating (1-4 negative, 7-10 positive)."""
    p = 1 if rating >= 7 else -1
    strong = rating in (1, 10) or (rating in (2, 9) and rng.random() < 0.5)
    hard = rng.random() < HARD_SHARE
    title = f"{rng.choice(['The ', '', 'A '])}{rng.choice(TITLE_A)} {rng.choice(TITLE_B)}".strip()
    said = [neutral_sentence(rng, title) for _ in range(rng.choice([0, 1, 1, 2]))]
    for _ in range(rng.choice([3, 4, 4, 5])):
        tricky = rng.random() < (TRICKY_IN_HARD if hard else TRICKY_IN_EASY)
        said.append((tricky_sentence if tricky else plain_sentence)(rng, p, strong))
    if rating in (4, 7) and rng.random() < 0.5:  # lukewarm reviews concede a point to the other side
        said.insert(rng.randrange(1, len(said) + 1), plain_sentence(rng, -p, False))
    if not hard and rng.random() < 0.6:
        said.append(rng.choice(POS_ADVICE if p > 0 else NEG_ADVICE))
    text = " ".join(said)
    if rng.random() < 0.15:  # emphasis, as real reviewers write it
        text = re.sub(r"\.$", rng.choice(["!!!", "!!!!", "!"]), text)
    if rng.random() < 0.1:
        word = rng.choice(sorted(set(re.findall(r"\b[a-z]{4,}\b", text))))
        text = re.sub(rf"\b{word}\b", word.upper(), text, count=1)
    if rng.random() < 0.4 and len(said) > 3:  # IMDB's paragraphs are separated by html breaks
        cut = text.find(". ", len(text) // 2)
        if cut > 0:
            text = text[: cut + 1] + "<br /><br />" + text[cut + 2:]
    return text


def _ratings(rng: random.Random, n: int, polarity: int) -> list[int]:
    choices = [7, 8, 9, 10] if polarity > 0 else [1, 2, 3, 4]
    return [rng.choice(choices) for _ in range(n)]


def make_sample(dest: Path) -> None:
    """Write the whole sample dataset into ``dest`` (deterministic bytes)."""
    dest = Path(dest)
    counts: Counter = Counter()
    for split_no, split in enumerate(("train", "test")):
        for label, polarity in (("neg", -1), ("pos", 1)):
            rng = random.Random(SEED + 10 * split_no + (polarity > 0))
            folder = dest / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i, rating in enumerate(_ratings(rng, SIZES[split] // 2, polarity)):
                text = review(rng, rating)
                counts.update(re.findall(r"[a-z']+", text.lower()))
                (folder / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")
    rng = random.Random(SEED + 100)
    (dest / "unsup").mkdir(parents=True, exist_ok=True)
    for i in range(SIZES["unsup"]):
        text = review(rng, rng.choice([1, 2, 3, 4, 7, 8, 9, 10]))
        counts.update(re.findall(r"[a-z']+", text.lower()))
        (dest / "unsup" / f"{i}_0.txt").write_text(text, encoding="utf-8")
    words = sorted(counts, key=lambda w: (-counts[w], w))
    (dest / "imdb.vocab").write_text("\n".join(words) + "\n", encoding="utf-8")
    (dest / "README").write_text(README.format(**SIZES), encoding="utf-8")


README = """IMDB sample for the course (synthetic)

Same layout as the Large Movie Review Dataset v1.0 (Maas et al., ACL 2011,
https://ai.stanford.edu/~amaas/data/sentiment/): train/{{pos,neg}}, test/{{pos,neg}},
unsup/, imdb.vocab. File names are <id>_<rating>.txt; positive reviews are rated
7-10, negative 1-4; unlabelled reviews are <id>_0.txt.

The reviews are NOT from IMDB: they are generated by coursesamples/imdb.py
from a small grammar, so the course can run offline and quickly. Sizes: {train}
train, {test} test (half positive each), {unsup} unlabelled. About a third of the
reviews state their opinion mostly through negations, verdicts and contrasts.
Generated text, no licence restrictions (part of the course repository).
"""
