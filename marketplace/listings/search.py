"""Search for listings: the index row, filters, sorts, keyset pages; tokens and highlighting re-exported.

The listing text is tokenised in Python (tokens.py: Han bigrams, FACTS.md) and
written to `listing_search` in the caller's transaction; the migration keeps an
FTS5 table (SQLite, by triggers) and a generated tsvector under GIN (PostgreSQL)
over it. Pages are one query each, keyset-paginated by an opaque cursor; relevance
ranks only the newest RELEVANCE_CANDIDATES matches.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from marketplace import MAX_ID
from marketplace.db import db
from marketplace.errors import Invalid
from marketplace.identity.places import DISTRICTS
from marketplace.listings.fields import PRICE_MAX_FEN
from marketplace.listings.highlight import highlight
from marketplace.listings.models import CATEGORIES, Listing, ListingSearch
from marketplace.listings.tokens import HAN, Term, fts5_query, plain_text, query_terms, tokens_for, tsquery_text

__all__ = [
    "SearchPage",
    "SearchParams",
    "Term",
    "decode_cursor",
    "encode_cursor",
    "highlight",
    "index_listing",
    "plain_text",
    "query_terms",
    "search_listings",
    "tokens_for",
]

SORTS = ("relevance", "newest", "price_asc", "price_desc")
# Relevance ranks only the newest matches (FACTS.md: ranking every match of a frequent word is the slow part).
RELEVANCE_CANDIDATES = 1000
# PostgreSQL: a word with at most this many matches is read from the GIN index, a commoner one by walking in order.
PG_FEW_MATCHES = 500
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 256

_GRADE = re.compile(rf"[A-Za-z0-9{HAN}]{{1,8}}")


# --- the index ------------------------------------------------------------------------------


def index_listing(listing: Listing) -> None:
    """Keep the listing's search row in step: present while active, gone otherwise (flushes)."""
    if listing.id is None:
        db.session.flush()
    row = db.session.get(ListingSearch, listing.id)
    if listing.status != "active":
        if row is not None:
            db.session.delete(row)
            db.session.flush()
        return
    tokens = tokens_for(listing.title, plain_text(listing.description))
    if row is None:
        db.session.add(ListingSearch(listing_id=listing.id, tokens=tokens))
    elif row.tokens != tokens:
        row.tokens = tokens
    db.session.flush()


# --- tables and joins -----------------------------------------------------------------------


class _CrossJoin(Join):
    """A join SQLite keeps in the written order: the FTS index first, then listings by key."""

    inherit_cache = True


@compiles(_CrossJoin)
def _compile_cross_join(element, compiler, **kw):
    # The left side is the bare FTS table, so the first " JOIN " is this join's.
    return compiler.visit_join(element, **kw).replace(" JOIN ", " CROSS JOIN ", 1)


_fts = sa.table("listing_fts", sa.column("rowid", sa.Integer))
_fts_self = sa.literal_column("listing_fts")
_pg_search = sa.table("listing_search", sa.column("listing_id", sa.Integer), sa.column("vector"))
_listings = Listing.__table__


# --- parameters and cursors ---------------------------------------------------------------


@dataclass
class SearchParams:
    """What a search asks for: words, filters, sort, the cursor of the page before, page size."""

    q: str = ""
    category: str | None = None
    grade: str | None = None
    district: str | None = None
    min_price_fen: int | None = None
    max_price_fen: int | None = None
    seller_id: int | None = None
    # Listings brought to one flea market or swap event (its page searches them).
    event_id: int | None = None
    sort: str = "newest"
    cursor: str | None = None
    limit: int = 20


@dataclass
class SearchPage:
    """One page of listings and the cursor of the next (None on the last page)."""

    items: list[Listing]
    next_cursor: str | None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_cursor(sort: str, key: list) -> str:
    """The opaque cursor after a row: base64url JSON of the sort and the row's sort key."""
    raw = json.dumps({"s": sort, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _reject_constant(name: str):
    raise ValueError(name)


def decode_cursor(cursor: str, sort: str) -> list:
    """The sort key in `cursor`, checked strictly against `sort`; ValueError if it is not one of ours."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise ValueError("length")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("encoding") from exc
    if not isinstance(data, dict) or set(data) != {"s", "k"} or data["s"] != sort or not isinstance(data["k"], list):
        raise ValueError("shape")
    key = data["k"]
    if not key or not _is_int(key[-1]) or not 0 < key[-1] <= MAX_ID:
        raise ValueError("id")
    if sort == "newest" and len(key) == 1:
        return key
    if sort in ("price_asc", "price_desc") and len(key) == 2 and _is_int(key[0]) and 0 <= key[0] <= PRICE_MAX_FEN:
        return key
    score = key[0] if len(key) == 2 else None
    if sort == "relevance" and isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score):
        return [float(score), key[1]]
    raise ValueError("key")


@dataclass(frozen=True)
class _Checked:
    terms: list[Term]
    sort: str
    key: list | None


def _check(p: SearchParams) -> _Checked:
    errors: dict[str, list] = {}
    if p.sort not in SORTS:
        errors["sort"] = [_l("排序方式只能是相关度、最新、价格从低到高或从高到低。")]
    if not _is_int(p.limit) or not 1 <= p.limit <= MAX_LIMIT:
        errors["limit"] = [_l("每页条数须在 1 到 100 之间。")]
    if p.category is not None and p.category not in CATEGORIES:
        errors["category"] = [_l("没有这个分类。")]
    if p.district is not None and p.district not in DISTRICTS:
        errors["district"] = [_l("没有这个区县。")]
    if p.grade is not None and not (isinstance(p.grade, str) and _GRADE.fullmatch(p.grade)):
        errors["grade"] = [_l("没有这个成色等级。")]
    for name in ("min_price_fen", "max_price_fen"):
        value = getattr(p, name)
        if value is not None and (not _is_int(value) or value < 0):
            errors[name] = [_l("价格须是不小于 0 的整数（分）。")]
    if not errors and p.min_price_fen is not None and p.max_price_fen is not None and p.min_price_fen > p.max_price_fen:
        errors["max_price_fen"] = [_l("最高价不能低于最低价。")]
    if p.seller_id is not None and (not _is_int(p.seller_id) or not 0 < p.seller_id <= MAX_ID):
        errors["seller_id"] = [_l("没有这个卖家。")]
    if p.event_id is not None and (not _is_int(p.event_id) or not 0 < p.event_id <= MAX_ID):
        errors["event_id"] = [_l("没有这个活动。")]
    terms = query_terms(p.q) if isinstance(p.q, str) else []
    sort = p.sort if p.sort != "relevance" or terms else "newest"
    key = None
    if p.cursor and "sort" not in errors:
        try:
            key = decode_cursor(p.cursor, sort)
        except ValueError:
            errors["cursor"] = [_l("翻页位置无效，请从第一页重新开始。")]
    if errors:
        raise Invalid(errors=errors)
    return _Checked(terms, sort, key)


# --- searching ------------------------------------------------------------------------------


FILTERS = ("category", "grade", "district", "min_price_fen", "max_price_fen", "seller_id", "event_id")


def _filter_values(p: SearchParams) -> dict:
    values = {name: getattr(p, name) for name in FILTERS if getattr(p, name) is not None}
    for name in ("min_price_fen", "max_price_fen"):
        if name in values:
            values[name] = min(values[name], PRICE_MAX_FEN)
    return values


def _conditions(filters: tuple[str, ...]) -> list:
    """Active listings, and one condition per given filter, its value a bind parameter of the same name."""
    columns = {"category": Listing.category, "grade": Listing.grade, "district": Listing.district}
    columns |= {"seller_id": Listing.seller_id, "event_id": Listing.event_id}
    conditions = [Listing.status == "active"]
    for name in filters:
        if name == "min_price_fen":
            conditions.append(Listing.price_fen >= sa.bindparam(name, type_=sa.BigInteger))
        elif name == "max_price_fen":
            conditions.append(Listing.price_fen <= sa.bindparam(name, type_=sa.BigInteger))
        else:
            conditions.append(columns[name] == sa.bindparam(name))
    return conditions


def _tsquery():
    return sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), sa.bindparam("match", type_=sa.Text))


def _pg_matching_ids(conditions: list, after_conditions: list, order: tuple, limit):
    """The ids of matching listings in `order` (at most `limit`), by a plan that suits how many match.

    PostgreSQL guesses how common a word is from its statistics; for a word it knows
    nothing about (often one no listing has) it walks every listing in order, looking
    for matches that never come. So a probe asks the GIN index first: up to
    PG_FEW_MATCHES matches are used directly; more mean a common word, which a walk in
    the page's order meets soon (unless the word belongs to the far end of that order,
    say dear things in a cheapest-first list: see the benchmark). The two branches'
    one-time conditions exclude each other, so only one of them runs.
    """
    match = _pg_search.c.vector.bool_op("@@")(_tsquery())
    probe = (
        sa.select(_pg_search.c.listing_id)
        .where(match)
        .limit(PG_FEW_MATCHES + 1)
        .cte("probe")
        .prefix_with("MATERIALIZED")
    )
    few = sa.select(sa.func.count()).select_from(probe).scalar_subquery() <= PG_FEW_MATCHES
    rows = sa.select(Listing.id).where(*conditions, *after_conditions).order_by(*order).limit(limit)
    # `id = ANY(array)`: looked up one by one in the primary key, never merged along all of it.
    found = sa.cast(sa.select(sa.func.array_agg(probe.c.listing_id)).scalar_subquery(), ARRAY(sa.Integer))
    sparse = rows.where(few, Listing.id == sa.any_(found))
    dense = rows.join(_pg_search, _pg_search.c.listing_id == Listing.id).where(sa.not_(few), match)
    return sa.union_all(sparse.subquery().select(), dense.subquery().select()).subquery("matching")


def _ranked(candidates, after: bool, limit):
    """Listings with their score from a (id, score) CTE, best first; pages go on by (score, id)."""
    stmt = sa.select(Listing, candidates.c.score).join(candidates, candidates.c.id == Listing.id)
    if after:
        last_score, last_id = sa.bindparam("after_score", type_=sa.Float), sa.bindparam("after_id", type_=sa.Integer)
        stmt = stmt.where(
            sa.or_(
                candidates.c.score > last_score, sa.and_(candidates.c.score == last_score, candidates.c.id < last_id)
            )
        )
    return stmt.order_by(candidates.c.score, candidates.c.id.desc()).limit(limit)


def _keyset(sort: str, after: bool, id_col) -> tuple[list, tuple]:
    """The condition for rows after the cursor's :after_* key (if `after`) and the ORDER BY of `sort`."""
    after_id = sa.bindparam("after_id", type_=sa.Integer)
    if sort == "newest":
        return ([id_col < after_id] if after else []), (id_col.desc(),)
    by_price = sa.tuple_(Listing.price_fen, Listing.id)
    key = sa.tuple_(sa.bindparam("after_price", type_=sa.BigInteger), after_id)
    if sort == "price_asc":
        return ([by_price > key] if after else []), (Listing.price_fen, Listing.id)
    return ([by_price < key] if after else []), (Listing.price_fen.desc(), Listing.id.desc())


@functools.lru_cache(maxsize=512)
def _statement(postgres: bool, text: bool, sort: str, filters: tuple[str, ...], after: bool):
    """The query of one shape, values left as bind parameters (built once: the ORM's per-call cost halves)."""
    conditions = _conditions(filters)
    limit = sa.bindparam("limit", type_=sa.Integer)
    if not text:
        after_conditions, order = _keyset(sort, after, Listing.id)
        return sa.select(Listing).where(*conditions, *after_conditions).order_by(*order).limit(limit)
    if postgres:
        if sort == "relevance":
            # Rank only the newest RELEVANCE_CANDIDATES matches (lower is better, as with bm25).
            newest = _pg_matching_ids(conditions, [], (Listing.id.desc(),), RELEVANCE_CANDIDATES)
            score = -sa.cast(sa.func.ts_rank(_pg_search.c.vector, _tsquery()), sa.Double)
            candidates = (
                sa.select(newest.c.id, score.label("score"))
                .select_from(newest.join(_pg_search, _pg_search.c.listing_id == newest.c.id))
                .cte("candidates")
                .prefix_with("MATERIALIZED")
            )
            return _ranked(candidates, after, limit)
        after_conditions, order = _keyset(sort, after, Listing.id)
        page = _pg_matching_ids(conditions, after_conditions, order, limit)
        return sa.select(Listing).join(page, page.c.id == Listing.id).order_by(*order)
    # SQLite: the FTS5 index first, listings by key after it (FACTS.md: the one shape fast for every word).
    source = _CrossJoin(_fts, _listings, _listings.c.id == _fts.c.rowid)
    conditions.append(_fts_self.bool_op("MATCH")(sa.bindparam("match", type_=sa.Text)))
    if sort == "relevance":
        # Rank only the newest RELEVANCE_CANDIDATES matches; bm25 is lower for better.
        candidates = (
            sa.select(_fts.c.rowid.label("id"), sa.func.bm25(_fts_self).label("score"))
            .select_from(source)
            .where(*conditions)
            .order_by(_fts.c.rowid.desc())
            .limit(RELEVANCE_CANDIDATES)
            .cte("candidates")
            .prefix_with("MATERIALIZED")
        )
        return _ranked(candidates, after, limit)
    after_conditions, order = _keyset(sort, after, _fts.c.rowid)
    if sort == "newest":
        # In rowid order: stops as soon as the page is full.
        return (
            sa.select(Listing).select_from(source).where(*conditions, *after_conditions).order_by(*order).limit(limit)
        )
    # Price order over text matches: sort just the ids, then load the page's rows.
    page = (
        sa.select(Listing.id)
        .select_from(source)
        .where(*conditions, *after_conditions)
        .order_by(*order)
        .limit(limit)
        .subquery("page")
    )
    return sa.select(Listing).join(page, page.c.id == Listing.id).order_by(*order)


def search_listings(params: SearchParams) -> SearchPage:
    """One page of active listings matching `params`; Invalid for bad filters or a bad cursor."""
    checked = _check(params)
    if isinstance(params.q, str) and params.q.strip() and not checked.terms:
        # Text with nothing searchable in it (only %, _, quotes, punctuation) matches nothing:
        # it is literal text, not a wildcard and not "no query".
        return SearchPage([], None)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    values = _filter_values(params)
    key, sort, limit = checked.key, checked.sort, params.limit
    stmt = _statement(postgres, bool(checked.terms), sort, tuple(values), key is not None)
    binds = {**values, "limit": limit + 1}
    if checked.terms:
        binds["match"] = tsquery_text(checked.terms) if postgres else fts5_query(checked.terms)
    if key is not None:
        binds["after_id"] = key[-1]
        if sort != "newest":
            binds["after_score" if sort == "relevance" else "after_price"] = key[0]
    if sort == "relevance":
        rows = db.session.execute(stmt, binds).all()
        items = [row[0] for row in rows[:limit]]
        next_key = [rows[limit - 1][1], items[-1].id] if len(rows) > limit else None
    else:
        found = list(db.session.scalars(stmt, binds))
        items = found[:limit]
        last = items[-1] if len(found) > limit else None
        next_key = None if last is None else [last.id] if sort == "newest" else [last.price_fen, last.id]
    return SearchPage(items, encode_cursor(sort, next_key) if next_key else None)
