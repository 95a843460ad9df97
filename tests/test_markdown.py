"""Text from the network is inert in a digest: no links, HTML, code, tables or hidden characters."""

from __future__ import annotations

import re

import pytest

from watcher.digest.markdown import escape, link
from watcher.digest.view import http_link
from watcher.text import plain, shorten


@pytest.mark.parametrize(
    ("hostile", "must_not_contain"),
    [
        ("[click](javascript:alert(1))", "[click]("),
        ("![x](data:image/png;base64,AAAA)", "![x]("),
        ("<script>alert(1)</script>", "<script"),
        ('<img src=x onerror="alert(1)">', "<img"),
        ("a | b | c", " | "),
        ("`rm -rf`", "`"),
        ("**bold** _em_ ~~gone~~", "**bold**"),
        ("see https://evil.example/x", "https://evil"),
        ("see www.evil.example", "www.evil"),
        ("&#60;script&#62;", "&#60;"),
        ("$\\frac{1}{2}$", "$"),
    ],
)
def test_hostile_text_is_escaped(hostile, must_not_contain):
    # Backslash-escaped characters are literal in Markdown; remove them before looking for syntax.
    live = re.sub(r"\\.", "", escape(hostile))
    assert must_not_contain not in live


def test_escaping_keeps_the_words():
    assert escape("Ketamine vs. placebo (n = 12): 50% [95% CI]") == "Ketamine vs. placebo (n = 12): 50% \\[95% CI\\]"


def test_newlines_controls_and_bidi_overrides_are_removed():
    text = "Title\n# Heading\r\n> quote\x00\x1b[31m\u202eevil\u2066"
    out = plain(text)
    assert "\n" not in out and "\x1b" not in out and "\u202e" not in out and "\u2066" not in out
    assert out == "Title # Heading > quote[31mevil"


def test_non_ascii_text_survives():
    assert escape("Größe ³He — 5 °C") == "Größe ³He — 5 °C"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "ftp://x.org/a", "//x.org", "https://", "", None])
def test_only_http_urls_become_links(url):
    assert http_link(url) is None


def test_url_cannot_break_out_of_a_link():
    url = link(http_link("https://example.org/a b)<x>\""))
    assert url == "https://example.org/a%20b%29%3Cx%3E%22"


def test_an_ampersand_is_text_unless_it_starts_a_character_reference():
    assert escape("AT&T, Johnson & Johnson") == "AT&T, Johnson & Johnson"
    assert escape("&amp; &#64; &#x40;") == "\\&amp; \\&#64; \\&#x40;"
    assert link("https://example.org/a?b=1&c=2&copy;") == "https://example.org/a?b=1&c=2\\&copy;"


def test_no_html_entity_is_written_for_angle_brackets():
    assert escape("p < 0.05 > q") == "p \\< 0.05 \\> q"


def test_shorten_cuts_at_a_word():
    assert shorten("alpha beta gamma delta", 12) == "alpha beta …"
    assert shorten("short", 12) == "short"
