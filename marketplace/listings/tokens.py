"""The search tokens: the one tokeniser for listings (index) and queries, on both databases.

FACTS.md measured why it looks like this. SQLite's tokenizers cannot find a
two-character Chinese word inside a longer run, so the text is tokenised here: Han
runs become overlapping bigrams plus the run's last character, Latin and digit runs
lower-cased words, after NFKC (full-width to ASCII). The same token text goes to an
FTS5 table on SQLite and to a 'simple' tsvector on PostgreSQL. A Chinese query run
becomes a phrase of its bigrams, which finds exactly what a substring match would.
Queries are built from these tokens alone, each quoted: user text never reaches
FTS5 or tsquery syntax.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

import nh3

MAX_QUERY_CHARS = 100
MAX_TERMS = 16
# Words are cut to this length in the index and in queries alike (PostgreSQL drops lexemes over 2 kB).
MAX_WORD_CHARS = 40

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A Han run, a digit run, or a run of other letters (Latin and the rest); everything else separates.
RUNS = re.compile(rf"(?P<han>[{HAN}]+)|(?P<digit>\d+)|(?P<word>[^\W\d_{HAN}]+)")
_BLOCK_END = re.compile(r"<(br|/p|/li)\b[^>]*>")


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), then lower case: for index, query and highlight."""
    return unicodedata.normalize("NFKC", text or "").lower()


def _word(run: str) -> str:
    """A letter or digit run as a token: accents dropped (café → cafe), as SQLite's FTS5 does
    by itself, so that PostgreSQL's 'simple' tsvector finds the same rows."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", run) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped)[:MAX_WORD_CHARS]


def _text_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for m in RUNS.finditer(normalise(text)):
        run = m.group()
        if m.lastgroup == "han":
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
            # The last character alone, so a one-character query (a prefix) finds a run's end too.
            tokens.append(run[-1])
        else:
            tokens.append(_word(run))
    return tokens


def tokens_for(title: str, description_text: str) -> str:
    """The index text of a listing: Han bigrams (+ each run's last character) and lower-cased words."""
    return " ".join(_text_tokens(title) + _text_tokens(description_text))


def plain_text(description_html: str | None) -> str:
    """The plain text of a sanitised description (block ends become line breaks)."""
    return html.unescape(nh3.clean(_BLOCK_END.sub("\n", description_html or ""), tags=set())).strip()


# --- queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One ANDed part of a query: tokens in adjacent positions, the last one optionally a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


def chunks(q: str) -> list[list[re.Match]]:
    """The query's runs, grouped where nothing separates them ("华为P40" is one chunk of three runs)."""
    grouped: list[list[re.Match]] = []
    end = -1
    for m in RUNS.finditer(normalise((q or "")[:MAX_QUERY_CHARS])):
        if grouped and m.start() == end:
            grouped[-1].append(m)
        else:
            grouped.append([m])
        end = m.end()
    return grouped


def query_terms(q: str) -> list[Term]:
    """Parse user text into terms; never raises, and only letters, digits and Han survive."""
    groups = chunks(q)
    terms: list[Term] = []
    for ci, chunk in enumerate(groups):
        tokens: list[str] = []
        prefix = False
        for ri, m in enumerate(chunk):
            run, last = m.group(), ri == len(chunk) - 1
            if m.lastgroup == "han":
                if len(run) == 1:
                    tokens.append(run)
                    prefix = last  # a lone character: any token starting with it
                else:
                    tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
                    if not last:
                        tokens.append(run[-1])  # the run ends here in the text too
            else:
                tokens.append(_word(run))
                # The query's last word as a prefix (search as you type: "iph", "K4").
                prefix = last and ci == len(groups) - 1
        term = Term(tuple(tokens), prefix)
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def _fts5_phrase(term: Term) -> str:
    return '"' + " ".join(t.replace('"', '""') for t in term.tokens) + '"' + ("*" if term.prefix else "")


def fts5_query(terms: list[Term]) -> str:
    """An FTS5 MATCH expression: quoted phrases ANDed; user text never reaches FTS5 syntax."""
    return " AND ".join(_fts5_phrase(term) for term in terms)


def _lexeme(token: str, prefix: bool) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if prefix else "")


def tsquery_text(terms: list[Term]) -> str:
    """A to_tsquery('simple', ...) text: quoted lexemes, `<->` phrases, `:*` prefixes, `&` between terms."""
    parts = []
    for term in terms:
        last = len(term.tokens) - 1
        parts.append("(" + " <-> ".join(_lexeme(t, term.prefix and i == last) for i, t in enumerate(term.tokens)) + ")")
    return " & ".join(parts)
