"""Make the indexes our store asks FerretDB for usable by FerretDB's own finds (benchmarks only).

FerretDB 1.24 on PostgreSQL turns each index the service creates into a btree on an expression
such as `(_jsonb -> 'participants')`, but runs every find, `_id` included, as a JSON containment
test, `_jsonb -> 'participants' @> '"u1"'`, which a btree cannot serve: each find scans its
table (bench/RESULTS-connections.md, round 5). MongoDB and DocumentDB, the stores this service
runs on, find by those indexes. So that a storm measures our side and not those scans, this adds
next to each such btree a GIN index (`jsonb_path_ops`, which serves `@>`) on the same top-level
field expression. Nothing else changes: the same fields, the same queries, the same documents.

    PYTHONPATH=. .venv/bin/python bench/ferretdb_gin.py POSTGRES_URL DATABASE

Needs `psql` (Debian's postgresql-client, installed with the server by scripts/servers).
"""

from __future__ import annotations

import re
import subprocess
import sys

# One key of a FerretDB index, as PostgreSQL prints it: `(_jsonb -> 'field'::text)`. Only
# top-level fields: FerretDB pushes no dotted path down into SQL.
TOP_LEVEL_KEY = re.compile(r"^\(_jsonb -> '([A-Za-z0-9_]+)'::text\)$")

LIST_KEYS = """
select c.relname, pg_get_indexdef(i.indexrelid, k, true)
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
cross join generate_series(1, i.indnkeyatts) as k
where n.nspname = :'schema' and c.relkind = 'r'
"""


def psql(url: str, sql: str, **variables: str) -> str:
    """Run SQL through psql (fails loudly), with :'name' variables bound safely by psql."""
    cmd = ["psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t"]
    for name, value in variables.items():
        cmd += ["-v", f"{name}={value}"]
    done = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()[:500]}")
    return done.stdout


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def gin_statements(schema: str, keys: list[tuple[str, str]]) -> list[str]:
    """One CREATE INDEX per (table, top-level field) that has a FerretDB btree key."""
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for table, key in keys:
        match = TOP_LEVEL_KEY.match(key.strip())
        if not match or (table, match.group(1)) in seen:
            continue
        seen.add((table, match.group(1)))
        field = match.group(1)
        name = f"gin_{table}_{field}"[:63]
        out.append(
            f"create index if not exists {quote(name)} on {quote(schema)}.{quote(table)} "
            f"using gin ((_jsonb -> '{field}') jsonb_path_ops)"
        )
    return out


def add_gin_indexes(url: str, schema: str) -> int:
    """Add the GIN twins of the database's top-level btree keys; returns how many were made."""
    rows = psql(url, LIST_KEYS, schema=schema).splitlines()
    keys = [tuple(r.split("\t", 1)) for r in rows if "\t" in r]
    statements = gin_statements(schema, [(t, k) for t, k in keys])
    if statements:
        psql(url, ";\n".join(statements) + ";\n")
        # Fresh statistics, or the planner may keep choosing the scan on a just-seeded table.
        tables = sorted({t for t, _ in keys})
        psql(url, "".join(f"analyze {quote(schema)}.{quote(t)};\n" for t in tables))
    return len(statements)


def main() -> None:
    url, schema = sys.argv[1], sys.argv[2]
    print(f"{add_gin_indexes(url, schema)} GIN indexes added in {schema}")


if __name__ == "__main__":
    main()
