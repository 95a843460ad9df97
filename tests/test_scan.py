"""The fast scan (watcher/scan.py) finds exactly what the term regexes find on their own: the facts
about Unicode it rests on, checked over every code point, and the same matches on many texts."""

from __future__ import annotations

import random
import re
import sys

import pytest

from watcher.relevance.scan import NON_ASCII_CASES, Folded, finditer, fold, is_word, leading_literal, shortest_leads
from watcher.relevance.topics import false_friend_set, term_set

EVERY_CHARACTER = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_the_only_non_ascii_characters_that_ignorecase_matches_to_ascii_are_the_four_folded_ones():
    found = {c: [a for a in map(chr, range(128)) if re.fullmatch(re.escape(a), c, re.IGNORECASE)]
             for c in re.findall(r"(?i)[\x00-\x7f]", EVERY_CHARACTER[128:])}
    assert found == {c: [a.upper(), a] for c, a in NON_ASCII_CASES.items()}


def test_fold_keeps_every_offset_and_what_is_a_word_character():
    folded = fold(EVERY_CHARACTER)
    assert len(folded) == len(EVERY_CHARACTER)
    words = re.compile(r"\w")
    changed = [(c, f) for c, f in zip(EVERY_CHARACTER, folded, strict=True) if c != f]
    assert changed  # (A-Z and the four)
    for c, f in changed:
        assert bool(words.match(c)) == bool(words.match(f)), hex(ord(c))
    # Every character that matches an ASCII letter case-insensitively becomes that lower-case letter.
    for c in re.findall(r"(?i)[a-z]", EVERY_CHARACTER):
        assert re.fullmatch(fold(c), c, re.IGNORECASE) and fold(c).islower() and fold(c).isascii(), hex(ord(c))
    # The quick path (lower()) and the table agree wherever the quick path is taken.
    assert fold("ſtudy of Kelvin ıs İt") == "study of kelvin is it"
    assert fold("Straße, ÉCOLE") == "straße, école"


def test_is_word_is_the_regex_word_class():
    words = {m.group() for m in re.finditer(r"\w", EVERY_CHARACTER)}
    assert {c for c in EVERY_CHARACTER if is_word(c)} == words


def test_leads_are_the_ascii_start_of_the_first_word():
    assert leading_literal("depress*") == "depress"
    assert leading_literal("HAM") == "ham"  # (of HAM-D*: the first word)
    assert leading_literal("Sjögren") == "sj"
    assert leading_literal("Ökotest") == ""
    assert leading_literal("*") == ""
    assert shortest_leads(["anti", "antidepress", "depress", "depress"]) == ("anti", "depress")
    assert shortest_leads(["anti", ""]) is None  # a term that can start anywhere


TERM_SETS = [
    ("ketamine", "esketamine", "Spravato", "HAM-D*", "PHQ-9", "anti-depress*", "depress*", "MDD"),
    ("a", "ab*", "b c", "c"),  # one-letter terms, overlapping ones, a phrase
    ("* pain", "pain"),  # a lone wildcard: no lead, the regex scans every position
    ("Sjögren", "Ökotest", "(2R,6R)-hydroxynorketamine", "x_y"),
    ("ſtudy", "K-9"),  # terms written with the non-ASCII letters that match ASCII ones
    ("study", "kit", "is", "it*", "k-9"),  # and texts written with them
]
WORDS = ["ketamine", "KETAMINE", "esketamine", "ESKetamine", "spravato", "ham-d", "ham‐d17", "phq-9", "anti-depressant",
         "anti depressive", "Depression", "mdd", "MDDs", "a", "ab", "abc", "b", "c", "B  C", "pain", "back pain", "sjögren",
         "SJÖGREN", "ökotest", "Ökotest", "(2R,6R)-hydroxynorketamine", "(2r,6r)-HYDROXYNORKETAMINE", "x_y", "xx_y",
         "ſtudy", "study", "STUDY", "k-9", "K-9", "ıs", "İt", "Kit", "KıT", "İTEM", "respiratory depression", "_ketamine", "ketamine_"]
GLUE = [" ", "", "-", "‐", ", ", ".", "\x00", "\n", "_", "(", "é"]


def texts(seed: int, n: int):
    rng = random.Random(seed)
    for _ in range(n):
        yield "".join(rng.choice(WORDS) + rng.choice(GLUE) for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("terms", TERM_SETS)
def test_finditer_finds_what_the_regex_finds(terms):
    compiled = term_set(terms, "t")
    for text in texts(len(terms), 3000):
        expected = [(m.lastgroup, m.span()) for m in compiled.regex.finditer(text)]
        assert [(m.lastgroup, m.span()) for m in finditer(compiled.regex, compiled.leads, text)] == expected, text
        assert [(m.lastgroup, m.span()) for m in finditer(compiled.regex, compiled.leads, Folded(text))] == expected


def test_false_friend_spans_are_those_of_the_lookahead_regex():
    phrases = false_friend_set(("respiratory depress*", "ST depress*", "depression of respiration", "cell suicide",
                                "long-term depress*", "a b", "ab*"), "ff")
    assert phrases is not None and phrases.leads is not None
    for text in texts(7, 3000):
        text += " ST-depression st depressed respiratory  depression Long‐term depression"
        assert phrases.spans(text) == [m.span(1) for m in phrases.regex.finditer(text)], text
