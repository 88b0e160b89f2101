"""Which columns of each warehouse table the analytics models join on, read from the models' own
SQL: the distribution advice collocates the joins that really run (rules/skew.py)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

import sqlglot
from sqlglot import exp

# dbt's Jinja, resolved to the relations it names; any other tag (config, comments) is dropped.
_SOURCE = re.compile(r"\{\{\s*source\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([^'\"]+)['\"]\s*\)\s*\}\}")
_REF = re.compile(r"\{\{\s*ref\(\s*['\"]([^'\"]+)['\"]\s*\)\s*\}\}")
_OTHER_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def resolved_sql(raw_sql: str, model_schemas: Mapping[str, str], source_schemas: Mapping[str, str] | None = None) -> str:
    """A model's raw SQL with source() and ref() replaced by the schema-qualified tables they
    name: a ref by its model's schema, a source by its source's schema (its name when not
    given); a ref to a model not in `model_schemas` keeps its bare name."""

    def ref(match: re.Match) -> str:
        name = match.group(1)
        return f"{model_schemas[name]}.{name}" if name in model_schemas else name

    def source(match: re.Match) -> str:
        return f"{(source_schemas or {}).get(match.group(1), match.group(1))}.{match.group(2)}"

    text = _SOURCE.sub(source, raw_sql)
    return _OTHER_JINJA.sub("", _REF.sub(ref, text))


def joined_columns(sql: str) -> Counter[tuple[str, str]]:
    """("schema.table", column) for each column of a schema-qualified table compared by `=` in a
    JOIN's ON: one count per join condition. Columns of CTEs and subqueries are not tables of
    the warehouse and are left out."""
    tree = sqlglot.parse_one(sql, read="postgres")
    tables = {t.alias_or_name: f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db}
    found: Counter[tuple[str, str]] = Counter()
    for join in tree.find_all(exp.Join):
        condition = join.args.get("on")
        if condition is None:
            continue
        for equality in condition.find_all(exp.EQ):
            for column in (equality.left, equality.right):
                if isinstance(column, exp.Column) and column.table in tables:
                    found[(tables[column.table], column.name)] += 1
    return found
