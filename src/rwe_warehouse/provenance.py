"""Stamps that every published result row carries."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd


def with_run_stamp(table: pd.DataFrame, built_at: datetime | None = None) -> pd.DataFrame:
    """Add the ``built_at`` column (UTC, whole seconds) every result row carries."""
    stamp = (built_at or datetime.now(UTC)).replace(microsecond=0, tzinfo=None)
    return table.assign(built_at=pd.Series(pd.Timestamp(stamp), index=table.index,
                                           dtype="datetime64[us]"))
