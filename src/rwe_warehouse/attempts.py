"""dbt-duckdb plugin: one build at a time per warehouse, and every build attempt audited.

dbt writes an ``audit.run_log`` row at the end of a build (on-run-end) or when
the raw-export gate stops it. A build that is killed (SIGKILL, SIGTERM, the
out-of-memory killer, a power cut), or that stops on an error outside those
two places (an engine error inside the on-run-start gate, a missing key),
writes none. And a second build started against the same warehouse failed
somewhere inside DuckDB with a lock traceback or, since dbt-duckdb closes the
database between nodes, could take the file over in the middle of the first.

So a build takes a lock on the warehouse before it opens it, and keeps a
marker of its attempt beside it (``<warehouse>.lock``, ``.attempts.json``; the
files are described in rwe_warehouse.warehouse_lock). The kernel drops the
lock when its process dies, however it dies, so a dead build never blocks
the next one. A build that cannot take it stops at once with one line naming
the holder (``WarehouseBusy``), before it opens the warehouse or touches
``published/``, and leaves a refused-attempt file.

When a build takes the lock, the previous holder and any refused builds join
``to_record``. On its first connection the plugin drops from that list every
attempt ``audit.run_log`` already has (no attempt gets two rows) and hands the
rest to SQL as the DuckDB variable ``rwe_unrecorded_attempts`` (JSON); the
first on-run-start hook, ``record_unrecorded_attempts`` (macros/record_run.sql),
writes their rows: ``killed`` (ended without exit handlers), ``interrupted``
(exited without recording its outcome) or ``refused`` (found the lock taken).
An attempt stays in the marker until a later build has seen its row, so a
build killed before it recorded its predecessors leaves them to the next one.

The lock is taken when dbt first opens the warehouse (dbt-duckdb creates its
plugins then, right before ``duckdb.connect``), after dbt has parsed the
project: a build killed while parsing had not touched the warehouse and is no
attempt. Every dbt command that opens the warehouse takes the lock (they would
collide on DuckDB's file lock anyway); only ``dbt build`` and ``dbt run`` are
attempts that run_log records.

Before the lock, a warehouse file whose name DuckDB would not use as its
catalog name (``main.duckdb``) is refused (``check_warehouse_name``).

Enabled in profiles.yml, before the other plugins:
``plugins: [{module: rwe_warehouse.attempts}, ...]``.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
from dataclasses import asdict
from pathlib import Path

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from rwe_warehouse.provenance import current_dbt_run
from rwe_warehouse.warehouse_lock import Attempt, WarehouseLock

#: DuckDB variable holding the attempts to record (JSON list of Attempt fields).
UNRECORDED_VARIABLE = "rwe_unrecorded_attempts"
#: DuckDB paths that are no file on this machine: nothing to lock.
_NOT_A_FILE_PREFIXES = (":memory:", "md:", "motherduck:")
#: Catalog names DuckDB keeps for itself: it names a file ``main.duckdb``'s
#: catalog ``main_db``, while dbt-duckdb takes the file stem (``main``) as the
#: database. dbt then finds none of its tables, and every table model of the
#: next build fails to rename its new table over the existing one.
RESERVED_CATALOG_NAMES = ("main", "system", "temp")


class WarehouseNameRefused(RuntimeError):
    """The warehouse file's name is one DuckDB will not use as its catalog name."""


def check_warehouse_name(path: str) -> None:
    """Refuse a warehouse file whose catalog DuckDB would rename (see
    RESERVED_CATALOG_NAMES), before the file is created or locked."""
    # DuckDB and dbt-duckdb both take the first dot-separated part of the name.
    stem = Path(path).name.lstrip(".").split(".")[0]
    if stem.lower() in RESERVED_CATALOG_NAMES:
        raise WarehouseNameRefused(
            f"The warehouse file's name starts with '{stem}', a catalog name DuckDB keeps for "
            f"itself (it would call the catalog '{stem}_db' while dbt expects '{stem}', and "
            "every later build would fail to replace its tables). Name the file otherwise "
            "(profiles.yml path, RWE_WAREHOUSE_PATH), e.g. rwe.duckdb.")


def this_attempt() -> Attempt:
    """The dbt invocation this process runs, as an :class:`Attempt`."""
    from dbt.flags import get_flags
    from dbt.version import __version__ as dbt_version

    run = current_dbt_run()
    flags = get_flags()
    log_dir = Path(getattr(flags, "LOG_PATH", None) or "logs").resolve()
    return Attempt(run_id=run.run_id, dbt_invocation_id=run.invocation_id,
                   command=str(getattr(flags, "WHICH", None) or ""), pid=os.getpid(),
                   host=socket.gethostname(),
                   started_at=run.started_at.isoformat(timespec="microseconds"),
                   dbt_version=dbt_version, log_file=str(log_dir / "dbt.log"))


def recorded_run_ids(connection: duckdb.DuckDBPyConnection, run_ids: list[str]) -> set[str]:
    """Which of ``run_ids`` audit.run_log has a row for (none before its first row)."""
    if not run_ids:
        return set()
    try:
        rows = connection.execute(
            "select distinct run_id from audit.run_log where list_contains(?, run_id)",
            [run_ids]).fetchall()
    except duckdb.CatalogException:  # no run_log yet
        return set()
    return {row[0] for row in rows}


class Plugin(BasePlugin):
    """Takes the warehouse's lock when dbt-duckdb creates its environment (right
    before it opens the file) and hands the attempts to record to SQL."""

    def initialize(self, plugin_config) -> None:
        self._lock: WarehouseLock | None = None
        self._to_record_json = "[]"
        self._pruned = False
        path = str(self.creds.path or "") if self.creds is not None else ""
        if not path or path.startswith(_NOT_A_FILE_PREFIXES):
            return
        check_warehouse_name(path)
        self._lock = WarehouseLock.acquire(Path(path).resolve(), this_attempt())
        # Python runs exit handlers on a normal exit and on an error, never on a kill.
        atexit.register(self._lock.mark_ended)

    def configure_connection(self, conn) -> None:
        # dbt-duckdb may reopen the file between nodes: look run_log up once.
        if self._lock is not None and not self._pruned:
            to_record = self._lock.keep_unrecorded(recorded_run_ids(
                conn, [attempt.run_id for attempt in self._lock.to_record]))
            self._to_record_json = json.dumps([asdict(attempt) for attempt in to_record])
            self._pruned = True
        self.configure_cursor(conn)

    def configure_cursor(self, cursor) -> None:
        # DuckDB variables belong to one connection: set it on every cursor.
        cursor.execute(f"set variable {UNRECORDED_VARIABLE} = ?", [self._to_record_json])
