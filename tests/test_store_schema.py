"""One schema truth: after every migration, SQLite and PostgreSQL hold the same tables, columns and keys.

The migrations are written twice (sqlite-utils calls, and ``schema.POSTGRES`` statements): this compares what
each engine ends up with, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from bot.store import Store
from bot.store.schema import POSTGRES, migrations

# A comparable class for each declared type: what the store's code can rely on, whatever the engine calls it.
CLASSES = {
    "text": "text",
    "integer": "integer",
    "bigint": "integer",
    "float": "real",
    "real": "real",
    "double precision": "real",
    "blob": "blob",
    "bytea": "blob",
}


def sqlite_schema(db: Database) -> dict:
    tables: dict[str, dict] = {}
    for table in db.table_names():
        if table.startswith(("_", "sqlite_")):
            continue
        conn = db.conn
        columns = {
            name: CLASSES[kind.lower()] for _, name, kind, *_ in conn.execute(f"pragma table_info('{table}')")
        }
        pk = tuple(
            name
            for _, name, *_rest in sorted(conn.execute(f"pragma table_info('{table}')"), key=lambda r: r[5])
            if _rest[-1]
        )
        indexes = set()
        for _, name, unique, origin, _partial in conn.execute(f"pragma index_list('{table}')"):
            if origin == "pk":
                continue
            cols = tuple(r[2] for r in conn.execute(f"pragma index_info('{name}')"))
            indexes.add((cols, bool(unique)))
        tables[table] = {"columns": columns, "pk": pk, "indexes": indexes}
    return tables


def postgres_schema(store: Store) -> dict:
    tables: dict[str, dict] = {}
    rows = store._rows(
        "select table_name as t, column_name as c, data_type as k from information_schema.columns "
        "where table_schema = 'public' order by table_name, ordinal_position"
    )
    for r in rows:
        if r["t"].startswith("_"):
            continue
        table = tables.setdefault(r["t"], {"columns": {}, "pk": (), "indexes": set()})
        table["columns"][r["c"]] = CLASSES[r["k"]]
    keys = store._rows(
        "select t.relname as t, i.indisprimary as pk, i.indisunique as uniq, "
        "array_to_string(array(select a.attname from unnest(i.indkey) with ordinality as k(n, o) "
        "join pg_attribute a on a.attrelid = t.oid and a.attnum = k.n order by k.o), ',') as cols "
        "from pg_index i join pg_class t on t.oid = i.indrelid join pg_namespace s on s.oid = t.relnamespace "
        "where s.nspname = 'public'"
    )
    for k in keys:
        if k["t"].startswith("_"):
            continue
        cols = tuple(k["cols"].split(","))
        if k["pk"]:
            tables[k["t"]]["pk"] = cols
        else:
            tables[k["t"]]["indexes"].add((cols, bool(k["uniq"])))
    return tables


def test_every_migration_has_its_postgresql_statements_in_the_same_order():
    assert [m.name for m in migrations._migrations] == list(POSTGRES)


def test_both_engines_end_with_the_same_tables_columns_and_keys(postgres_url):
    lite = sqlite_schema(_migrated())
    pg_store = Store.open(postgres_url)
    try:
        pg = postgres_schema(pg_store)
    finally:
        pg_store.close()
    assert sorted(lite) == sorted(pg)
    for table in lite:
        assert lite[table]["columns"] == pg[table]["columns"], table
        assert lite[table]["pk"] == pg[table]["pk"], table
        assert lite[table]["indexes"] == pg[table]["indexes"], table


def _migrated() -> Database:
    db = Database(memory=True)
    migrations.apply(db)
    return db


@pytest.mark.parametrize("drift", ["column", "index"])
def test_the_comparison_sees_a_drift(drift):
    """The check itself can fail: a column or an index one engine lacks shows up."""
    db = _migrated()
    before = sqlite_schema(db)
    if drift == "column":
        db["mentions"].add_column("extra", str)
    else:
        db["mentions"].create_index(["author_id"])
    assert sqlite_schema(db) != before
