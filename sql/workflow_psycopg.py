#!/usr/bin/env python3
"""The reference workflow through psycopg 3 (extended protocol, prepared statements).

  pip install "psycopg[binary]"
  python3 sql/workflow_psycopg.py [--dsn "host=127.0.0.1 port=55432 user=me dbname=recsql"]
      [--database mysql_demo_db --mysql-database test]

It creates the MariaDB database (when --database is given) or uses `demo`, trains a model,
waits for it, and prints the row counts of each query of the workflow. Exits non-zero if a
user_item row pairs a user with an item they rated.
"""
import argparse
import time

import psycopg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default="host=127.0.0.1 port=55432 user=psycopg dbname=recsql")
    ap.add_argument("--database", help="create this MySQL/MariaDB database in recsql and train from it")
    ap.add_argument("--mysql-database", default="test")
    ap.add_argument("--model", default="lightfm_psycopg")
    a = ap.parse_args()
    with psycopg.connect(a.dsn, autocommit=True, prepare_threshold=0) as conn:
        cur = conn.cursor()
        source = "demo"
        if a.database:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {a.database} WITH ENGINE = 'mysql', PARAMETERS = "
                f'{{"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "{a.mysql_database}"}}'
            )
            source = a.database
        cur.execute("CREATE ML_ENGINE IF NOT EXISTS lightfm FROM lightfm")
        cur.execute(f"DROP MODEL IF EXISTS {a.model}")
        t = time.perf_counter()
        cur.execute(
            f"CREATE MODEL {a.model} FROM {source} (SELECT * FROM movie_lens_ratings) PREDICT movieId "
            "USING engine = 'lightfm', item_id = 'movieId', user_id = 'userId', threshold = 4, "
            "n_recommendations = 10, evaluation = true"
        )
        print("CREATE MODEL ->", cur.fetchone()[5])
        while True:
            cur.execute("SELECT status, error FROM models WHERE name = %s", (a.model,))
            status, error = cur.fetchone()
            if status in ("complete", "error"):
                break
            time.sleep(0.02)
        print(f"status {status} after {time.perf_counter() - t:.2f} s", error or "")
        cur.execute(f"DESCRIBE {a.model}.info")
        print("DESCRIBE info:", dict(zip([d.name for d in cur.description], cur.fetchone())))
        queries = {
            "item_item, all items": f"SELECT b.* FROM {a.model} b WHERE recommender_type = 'item_item'",
            "item_item, movieId = 100": f"SELECT b.* FROM {a.model} b WHERE movieId = %s USING recommender_type = 'item_item'",
            "user_item, all users": f"SELECT b.* FROM {a.model} b WHERE recommender_type = 'user_item'",
            "user_item, userId = 100": f"SELECT b.* FROM {a.model} b WHERE userId = %s USING recommender_type = 'user_item'",
            "prediction join, users 215 and 216": f"SELECT b.* FROM {source}.movie_lens_ratings a JOIN {a.model} AS b WHERE a.userId IN (%s, %s)",
        }
        params = {"item_item, movieId = 100": (100,), "user_item, userId = 100": (100,),
                  "prediction join, users 215 and 216": (215, 216)}
        for label, sql in queries.items():
            cur.execute(sql, params.get(label, ()), prepare=True)
            print(f"{label}: {len(cur.fetchall())} rows")
        cur.execute(
            f"SELECT count(*) FROM {a.model} b JOIN {source}.movie_lens_ratings r "
            "ON r.userId = b.user_id AND r.movieId = b.item_id"
        )
        seen = cur.fetchone()[0]
        print("user_item rows that pair a user with an item they rated:", seen)
        cur.execute(f"SELECT count(*) FROM {a.model} b JOIN {source}.movie_lens_ratings r "
                    "ON r.userId = b.user_id AND r.movieId = b.item_id WHERE b.user_id = %s "
                    "USING exclude_seen = false, n_recommendations = 100", (100,))
        print("... with exclude_seen = false, user 100 (top 100):", cur.fetchone()[0])
        if seen:
            raise SystemExit("seen items were recommended")


if __name__ == "__main__":
    main()
