"""A web page as the text a reader sees, and a quote located in it. Pure: bytes in, text out.

The page is untrusted like everything from the network. It is parsed by the standard library's
HTML parser through BeautifulSoup (no DTD, no entity declarations, no network); scripts, styles,
the document head, navigation and hidden elements are dropped; block elements end a line, inline
ones join their text as a browser does. The body is read as UTF-8 when it is valid UTF-8 whatever
its header says (servers often label UTF-8 pages ISO-8859-1), else as the header's charset, the
page's own <meta> charset or windows-1252: a wrong label does not garble the text.

Locating ignores case, whitespace, punctuation and typographic quotes: both sides are reduced to
their words (`comparable`), and a quote is on the page when its words occur there in a row.
"""

from __future__ import annotations

import re
import unicodedata

from bs4 import BeautifulSoup, Tag, UnicodeDammit

DROPPED = ("head", "script", "style", "noscript", "template", "nav", "iframe", "object", "embed", "svg", "canvas", "form")
BLOCKS = ("p", "div", "li", "ul", "ol", "dl", "dt", "dd", "br", "hr", "tr", "td", "th", "table", "section", "article",
          "main", "aside", "header", "footer", "blockquote", "pre", "figure", "figcaption", "address", "details",
          "summary", "h1", "h2", "h3", "h4", "h5", "h6")
CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
# Apostrophes and primes join the letters around them ("Pain’s" = "Pain's" = "pains"); every other
# run of non-letters, non-digits is a word break.
APOSTROPHES = str.maketrans("", "", "'’‘ʼ`´′ʹ")
WORD = re.compile(r"[^\W_]+")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode(body: bytes, content_type: str | None = None) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    found = CHARSET.search(content_type or "")
    # A UTF-16/32 label without a byte order mark is not believed: decoding bytes that are not
    # UTF-16 that way "succeeds" with nonsense (a real UTF-16 page starts with a BOM, sniffed anyway).
    header = [found.group(1)] if found and not found.group(1).lower().startswith(("utf-16", "utf-32")) else []
    # windows-1252 before any statistical guess, which misreads short pages.
    dammit = UnicodeDammit(body, known_definite_encodings=header, user_encodings=["windows-1252"], is_html=True)
    return dammit.unicode_markup if dammit.unicode_markup is not None else body.decode("windows-1252", "replace")


def page_text(body: bytes, content_type: str | None = None) -> str:
    """The visible text of an HTML page (or a text/plain one), a line per block, spaces collapsed."""
    markup = decode(body, content_type)
    if media_type(content_type) == "text/plain":
        raw = markup
    else:
        soup = BeautifulSoup(markup, "html.parser")
        for tag in soup.find_all(DROPPED):
            tag.decompose()
        for tag in soup.find_all(hidden):
            tag.decompose()
        for tag in soup.find_all(BLOCKS):
            tag.insert_before("\n")
            tag.append("\n")
        raw = soup.get_text("")
    lines = (" ".join(line.split()) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)


def hidden(tag: Tag) -> bool:
    """Navigation by its ARIA role, and what the page hides from every reader."""
    role = str(tag.get("role") or "").lower()
    return role == "navigation" or tag.has_attr("hidden") or str(tag.get("aria-hidden") or "").lower() == "true"


def comparable(text: str) -> str:
    """The words of a text, lower-cased and compatibility-normalised, separated by single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(APOSTROPHES)
    return " ".join(WORD.findall(folded))


def contains(page: str, quote: str) -> bool:
    """Whether `quote`'s words occur in a row in `page` (both already `comparable`)."""
    return bool(quote) and f" {quote} " in f" {page} "


# Words with their place in the text, as `comparable` reads them: a run of letters and digits, with
# the apostrophes inside it joined ("Pain’s").
SPANNED_WORD = re.compile(r"[^\W_]+(?:['’‘ʼ`´′ʹ][^\W_]+)*")
SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def words_at(text: str) -> list[tuple[str, int, int]]:
    """Each comparable word of `text` with the span of the original text it comes from."""
    found = []
    for m in SPANNED_WORD.finditer(text):
        for word in comparable(m.group(0)).split():
            found.append((word, m.start(), m.end()))
    return found


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote`'s words first occur in a row in `text` (the original, not `comparable`): the
    span from its first word to its last, as `contains` would find it; None when it does not."""
    wanted = comparable(quote).split()
    if not wanted:
        return None
    words = words_at(text)
    first = wanted[0]
    for i, (word, start, _) in enumerate(words):
        if word == first and [w for w, _, _ in words[i : i + len(wanted)]] == wanted:
            return start, words[i + len(wanted) - 1][2]
    return None


def sentence_around(text: str, span: tuple[int, int]) -> str:
    """The sentence(s) of `text` holding `span`: from the end of the sentence before to the end of its last."""
    start = max((m.end() for m in SENTENCE_END.finditer(text, 0, span[0])), default=0)
    after = SENTENCE_END.search(text, span[1])
    return " ".join(text[start : after.end() if after else len(text)].split()).lstrip("-*•· ")
