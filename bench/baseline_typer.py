"""The framework's floor for `fieldreport add`: a minimal typer app that inserts one row
into a SQLite file (WAL, synchronous=FULL, BEGIN IMMEDIATE), as bench/add_bench.py measures."""

import sqlite3
import sys

import typer

app = typer.Typer(add_completion=False)


@app.command()
def add(db: str, title: str, details: str = "", level: str = "blue"):
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, title TEXT, details TEXT, level TEXT)")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO r (title, details, level) VALUES (?, ?, ?)", (title, details, level))
    conn.execute("COMMIT")
    print("ok")


if __name__ == "__main__":
    app()
