"""Runs the queries of compare_postgres.sql on a running recsql and on the local PostgreSQL,
over the same data, and lists where the answers differ: column names, values (numbers
compared to 6 decimals) or success; with --types, also the column types (their OIDs). A tool for finding where recsql's SQL is not
PostgreSQL's; not part of the test suite.

    cargo run -- serve &                      # recsql on 127.0.0.1:55432
    python3 sql/compare_postgres.py [--recsql-port 55432] [--values-only] [--types]

It needs psycopg2. It copies the demo database's ratings of users 1-60 and its movies into
the tables cmp_r and cmp_m of PostgreSQL's database `test` and of recsql's files database.
"""

import argparse
import decimal
import io
import math
import pathlib

import psycopg2


def connect(port, user, dbname):
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname=dbname)
    conn.autocommit = True
    return conn


def copy_data(recsql, pg):
    """The demo data into both systems, as cmp_r (ratings) and cmp_m (movies)."""
    sources = {
        "cmp_r": ('SELECT * FROM demo.movie_lens_ratings WHERE "userId" <= 60',
                  '"userId" bigint, "movieId" bigint, rating bigint, "timestamp" bigint'),
        "cmp_m": ("SELECT * FROM demo.movies",
                  '"movieId" bigint, title text, genres text, release_year bigint'),
    }
    rc, pc = recsql.cursor(), pg.cursor()
    for table, (query, columns) in sources.items():
        data = io.StringIO()
        rc.copy_expert(f"COPY ({query}) TO STDOUT WITH CSV HEADER", data)
        rc.execute(f"DROP TABLE IF EXISTS files.{table}")
        rc.execute(f"CREATE TABLE files.{table} AS {query}")
        pc.execute(f"DROP TABLE IF EXISTS {table}")
        pc.execute(f"CREATE TABLE {table} ({columns})")
        data.seek(0)
        pc.copy_expert(f"COPY {table} FROM STDIN WITH CSV HEADER", data)


def normalise(value):
    if isinstance(value, (float, decimal.Decimal)):
        f = float(value)
        return "nan" if math.isnan(f) else (round(f, 6) if abs(f) < 1e12 else f)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    return value


def run(conn, query):
    cur = conn.cursor()
    try:
        cur.execute(query)
        if cur.description is None:
            return ("ok", [], [], [])
        rows = [tuple(normalise(v) for v in r) for r in cur.fetchall()]
        return ("ok", [d[0] for d in cur.description], rows, [d[1] for d in cur.description])
    except Exception as e:  # the answer is the error
        return ("error", str(e).split("\n")[0][:150], None, None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recsql-port", type=int, default=55432)
    parser.add_argument("--values-only", action="store_true", help="ignore column names")
    parser.add_argument("--types", action="store_true", help="also compare column types")
    args = parser.parse_args()
    recsql = connect(args.recsql_port, "recsql", "recsql")
    pg = connect(5432, "postgres", "test")
    copy_data(recsql, pg)
    text = (pathlib.Path(__file__).parent / "compare_postgres.sql").read_text()
    queries = [q.strip() for q in text.split(";\n")]
    queries = [q for q in queries if q and not all(l.startswith("--") for l in q.splitlines())]
    differ = typed_differently = 0
    for q in queries:
        q = "\n".join(l for l in q.splitlines() if not l.startswith("--"))
        a = run(pg, q.replace("{r}", "cmp_r").replace("{m}", "cmp_m"))
        b = run(recsql, q.replace("{r}", "files.cmp_r").replace("{m}", "files.cmp_m"))
        if a[0] == b[0] == "error":
            continue
        ordered = "order by" in q.lower()
        same = (a[0] == b[0] == "ok"
                and (args.values_only or a[1] == b[1])
                and (a[2] == b[2] if ordered else sorted(map(repr, a[2])) == sorted(map(repr, b[2]))))
        if same and args.types and a[3] != b[3]:
            typed_differently += 1
            print("TYPES:", q)
            print("   postgres:", a[3])
            print("   recsql:  ", b[3])
        if not same:
            differ += 1
            print("DIFF:", q)
            print("   postgres:", a[0], a[1], (a[2] or [])[:3])
            print("   recsql:  ", b[0], b[1], (b[2] or [])[:3])
    print(f"{len(queries) - differ} of {len(queries)} queries answer as PostgreSQL does")
    if args.types:
        print(f"{typed_differently} of those {len(queries) - differ} have other column types")


if __name__ == "__main__":
    main()
