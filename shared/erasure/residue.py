"""The proof of an erasure: scan every text-bearing column of every table for the person."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, String, Table, Text, any_, cast, func, or_, select
from sqlalchemy.orm import Session

from shared.erasure.subjects import Identifiers
from shared.models import Base


@dataclass(frozen=True)
class Residue:
    """A column that still holds one of the person's identifiers after erasure."""

    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


class ErasureNotVerified(RuntimeError):
    """The post-erasure scan found the person somewhere; the caller must roll back."""

    def __init__(self, residue: list[Residue]) -> None:
        super().__init__("personal data remains in " + ", ".join(sorted({str(r) for r in residue})))
        self.residue = residue


_HEX_OR_ID = re.compile(r"^[0-9a-f\-]+$")


def _text_columns(table: Table) -> list[Column[Any]]:
    cols = []
    for col in table.columns:
        typ = col.type
        impl = getattr(typ, "impl", typ)
        if isinstance(typ, (String, JSON)) or isinstance(impl, (String, JSON)):
            cols.append(col)
    return cols


def _as_text(col: Column[Any]) -> ColumnElement[Any]:
    return cast(col, Text) if isinstance(col.type, JSON) else col


def _term_variants(term: str) -> set[str]:
    """The term as stored in text and in JSON (non-ASCII may be \\u-escaped in JSON text)."""
    variants = {term.lower()}
    escaped = json.dumps(term)[1:-1].lower()
    variants.add(escaped)
    return variants


def _boundary_pattern(term: str) -> re.Pattern[str]:
    """A match of the whole identifier, not a substring of a longer one (bob@x.org in jimbob@x.org)."""
    t = re.escape(term.lower())
    if _HEX_OR_ID.match(term.lower()):
        return re.compile(rf"(?<![0-9a-f]){t}(?![0-9a-f])")
    return re.compile(rf"(?<![a-z0-9._%+\-]){t}(?![a-z0-9\-]|\.[a-z0-9])")


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _candidate_filter(session: Session, texts: list[ColumnElement[Any]], terms: list[str]) -> ColumnElement[bool]:
    """SQL condition: some column contains some term (case-insensitive); a prefilter only.

    On PostgreSQL every row's text columns are lowered and joined once and
    matched with `LIKE ANY`, so the (costly) JSON-to-text conversion happens
    once per row, not once per term. SQLite databases are small: plain ORs.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import array

        blob = func.lower(func.concat_ws(chr(31), *texts))
        return blob.like(any_(array([_like_pattern(t) for t in terms])))
    return or_(*[func.lower(t).contains(term, autoescape=True) for t in texts for term in terms])


def find_residue(session: Session, ids: Identifiers) -> list[Residue]:
    """Every (table, column) that still holds one of the person's identifiers.

    The database narrows the search with a case-insensitive substring match
    over every string and JSON column (JSON cast to text), one statement per
    table; the few candidate values are then checked in Python against
    whole-identifier patterns so `bob@x.org` is not "found" in `jimbob@x.org`.
    Uses the model metadata, so a table added to `shared.models` is scanned
    without changing this code. No server-side cursor: PostgreSQL may then
    scan big tables in parallel.
    """
    session.flush()
    terms = sorted({v for t in ids.terms() if t for v in _term_variants(t)})
    patterns = [_boundary_pattern(t) for t in terms]
    found: set[Residue] = set()
    for table in Base.metadata.sorted_tables:
        cols = _text_columns(table)
        if not cols:
            continue
        texts = [_as_text(c) for c in cols]
        for row in session.execute(select(*texts).where(_candidate_filter(session, texts, terms))):
            for col, value in zip(cols, row):
                if value is None:
                    continue
                text = (value if isinstance(value, str) else json.dumps(value)).lower()
                if any(p.search(text) for p in patterns):
                    found.add(Residue(table.name, col.name))
    return sorted(found, key=str)
