"""dbt-duckdb plugin: the garbage collector stops re-walking what the build loaded before its nodes.

When dbt-duckdb creates its environment, dbt has loaded the project (every
node, macro and their jinja templates) and the libraries it imports: some
millions of long-lived Python objects. Python's cyclic collector walks every
tracked object at each full collection (they grow with the objects the
Python models and the report make) and once more when the interpreter
exits. ``gc.freeze()`` moves the objects alive at this point into the
permanent generation, so later collections walk only what the nodes create;
at exit a second freeze skips the last full collection, whose memory goes
back to the system with the process anyway. Nothing is cached and no result
depends on it: it changes when memory of unreachable cycles is reclaimed,
not what is computed (benchmarks/NOTES.md, "Demo warm build").

Enabled in profiles.yml: ``plugins: [{module: rwe_warehouse.heap}]``.
"""

from __future__ import annotations

import atexit
import gc

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    """Freezes the objects alive when dbt opens the warehouse, and again at exit."""

    def initialize(self, plugin_config) -> None:
        gc.freeze()
        atexit.register(gc.freeze)
