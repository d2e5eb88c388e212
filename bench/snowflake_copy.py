"""The Snowflake reference of `make bench` (bench/run.sh, case pg_sf): what a Snowflake
user runs to bulk-load a file, `PUT file://... @stage` and `COPY INTO`, through the
Python connector (snowflake-connector-python, from fakesnow's venv) against fakesnow.

    python snowflake_copy.py setup  URL DB            # database DB with schema PUBLIC
    python snowflake_copy.py drop   URL DB TABLE      # drop the table if it exists
    python snowflake_copy.py load   URL DB TABLE CSV  # create TABLE, PUT CSV, COPY INTO
    python snowflake_copy.py count  URL DB TABLE      # prints the table's row count

The table gets the types hakobu-runner gives `orders` when it creates it (so both load
the same data into the same columns); the CSV is PostgreSQL's `COPY ... (FORMAT csv)`.
"""

import os
import sys
from urllib.parse import urlsplit

import snowflake.connector

# The columns hakobu-runner creates for PostgreSQL's `orders` (docs/data-plane.md,
# "Snowflake": long NUMBER(19,0), decimal NUMBER(38,9), timestamp TIMESTAMP_TZ, json VARIANT).
COLUMNS = (
    "ID NUMBER(19,0), CUSTOMER_ID NUMBER(19,0), NOTE VARCHAR, AMOUNT NUMBER(38,9), "
    "CREATED_AT TIMESTAMP_TZ, SHIPPED_AT TIMESTAMP_TZ, PAID BOOLEAN, ATTRS VARIANT"
)


def connect(url: str, database: str | None):
    u = urlsplit(url)
    return snowflake.connector.connect(
        user="bench",
        password="bench",
        account="bench",
        host=u.hostname,
        port=u.port,
        protocol=u.scheme,
        database=database,
        schema="PUBLIC" if database else None,
    )


def main() -> None:
    command, url, db, *rest = sys.argv[1:]
    if command == "setup":
        with connect(url, None) as conn:
            cur = conn.cursor()
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {db}.PUBLIC")
        return
    table = rest[0]
    with connect(url, db) as conn:
        cur = conn.cursor()
        if command == "drop":
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        elif command == "count":
            print(cur.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        elif command == "load":
            path = os.path.abspath(rest[1])
            cur.execute(f"CREATE OR REPLACE TABLE {table} ({COLUMNS})")
            cur.execute(f"CREATE OR REPLACE TEMPORARY STAGE {table}_STAGE")
            cur.execute(f"PUT 'file://{path}' @{table}_STAGE AUTO_COMPRESS = FALSE")
            cur.execute(
                f"COPY INTO {table} FROM @{table}_STAGE FILE_FORMAT = (TYPE = CSV "
                "FIELD_OPTIONALLY_ENCLOSED_BY = '\"' NULL_IF = ()) PURGE = TRUE"
            )
        else:
            sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
