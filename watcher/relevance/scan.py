"""Finding a term regex's matches quickly, with exactly the results of `regex.finditer(text)`.

A term regex (topics.py) is case-insensitive and tries its alternatives at every position of a
text, which makes a scan of an abstract cost about as much as parsing its record. But every match
starts with the leading literal of one of its terms (`headache` for `headache*`, `who` for `WHO-5`).
So the text is folded to lower case once, plain substring search (C speed) finds where a leading
literal occurs, and the regex is tried only there: same matches, same order, far fewer attempts.

Folding keeps every offset: under `re.IGNORECASE` an ASCII letter matches its other case and four
non-ASCII letters (dotted and dotless i, long s, the Kelvin sign), and the fold maps exactly those
to lower-case ASCII (tests/test_scan.py checks both facts over all of Unicode). Leading literals
are taken from the ASCII start of a term; a term that starts otherwise (`*`, a non-ASCII letter)
leaves its regex scanning every position, as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# Characters that re.IGNORECASE matches to an ASCII letter, other than its two cases.
NON_ASCII_CASES = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
FOLD_TABLE = str.maketrans({**{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}, **NON_ASCII_CASES})


def fold(text: str) -> str:
    """The text with every character that case-insensitively matches an ASCII letter made that
    lower-case letter, every other character at its place (len(fold(t)) == len(t))."""
    low = text.lower()
    if text.isascii() or (len(low) == len(text) and "\u0131" not in low and "\u017f" not in low):
        return low  # lower() maps no other non-ASCII letter to ASCII but the Kelvin sign, to k
    return text.translate(FOLD_TABLE)


def leading_literal(first_word: str) -> str:
    """The folded text every match of a term starts with: the ASCII start of its first word (without
    a final `*`); empty when there is none."""
    stem = first_word[:-1] if first_word.endswith("*") else first_word
    ascii_start = re.match(r"[\x00-\x7f]*", stem)
    return fold(ascii_start.group() if ascii_start else "")


def shortest_leads(literals: Iterable[str]) -> tuple[str, ...] | None:
    """The literals to search for, none of them starting with another (that one finds its places
    too); None when one is empty, i.e. some term can start anywhere."""
    found = sorted(set(literals), key=len)
    if not found or not found[0]:
        return None
    kept: list[str] = []
    for literal in found:
        if not any(literal.startswith(k) for k in kept):
            kept.append(literal)
    return tuple(kept)


class Folded:
    """A text and its fold, made once for all the term lists that search it."""

    __slots__ = ("folded", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)

    def starts(self, leads: tuple[str, ...]) -> list[int]:
        """Where one of the leads starts a word, overlapping places too, in order. (A term regex
        begins with (?<!\\w), and folding keeps what is a word character.)"""
        folded = self.folded
        found = []
        for lead in leads:
            at = folded.find(lead)
            while at >= 0:
                if at == 0 or not is_word(folded[at - 1]):
                    found.append(at)
                at = folded.find(lead, at + 1)
        return found if len(leads) == 1 else sorted(set(found))


def is_word(char: str) -> bool:
    """Whether the regex class \\w matches this character."""
    return char.isalnum() or char == "_"


def finditer(regex: re.Pattern[str], leads: tuple[str, ...] | None, text: str | Folded) -> Iterator[re.Match[str]]:
    """What `regex.finditer(text)` yields, for a regex whose every match starts a word with one of
    the leads: the regex is tried only there. A zero-width match (a lookahead) is found at each
    place too."""
    if leads is None:
        yield from regex.finditer(text.text if isinstance(text, Folded) else text)
        return
    source = text if isinstance(text, Folded) else Folded(text)
    end = 0
    for at in source.starts(leads):
        if at < end:
            continue  # inside the previous match: finditer would not try here either
        found = regex.match(source.text, at)
        if found is not None:
            yield found
            end = found.end()
