"""dbt-duckdb plugin: hand the pseudonymisation key to DuckDB as a session variable.

``duckdb__pseudonymise`` (macros/adapters/pseudonymise.sql) reads the key with
``getvariable('rwe_pseudonym_key')`` instead of inlining it, so the key is in
no compiled SQL file under target/, no line of logs/dbt.log and no view or
macro definition stored in the warehouse. The key is bound as a query
parameter here, from the ``RWE_PSEUDONYM_KEY`` environment variable, on
every cursor dbt-duckdb opens (DuckDB variables belong to one connection).

Enabled in profiles.yml: ``plugins: [{module: rwe_warehouse.pseudonym_key}]``.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

KEY_ENV_VAR = "RWE_PSEUDONYM_KEY"
KEY_VARIABLE = "rwe_pseudonym_key"
MIN_KEY_LENGTH = 16


def pseudonym_key() -> str:
    """The key from the environment; an error that says what to do when unusable."""
    key = os.environ.get(KEY_ENV_VAR, "")
    if len(key) < MIN_KEY_LENGTH:
        raise RuntimeError(
            f"{KEY_ENV_VAR} is missing or shorter than {MIN_KEY_LENGTH} characters: set that "
            "environment variable (make run creates one in .secrets/).")
    return key


class Plugin(BasePlugin):
    """Sets the ``rwe_pseudonym_key`` DuckDB variable on each connection and cursor."""

    def configure_connection(self, conn) -> None:
        conn.execute(f"set variable {KEY_VARIABLE} = ?", [pseudonym_key()])

    def configure_cursor(self, cursor) -> None:
        cursor.execute(f"set variable {KEY_VARIABLE} = ?", [pseudonym_key()])
