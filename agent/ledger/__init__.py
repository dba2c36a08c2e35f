"""The annotation ledger: tickets, exclusions, maintenance announcements and claim tracking, append-only.

`records` holds the records and their fold (pure), `store` the SQLite table, `convert` the bridge to the
SLA engine, `importer` the CSV/YAML import.
"""

from agent.ledger.convert import LedgerSlice, LedgerWindow, ServiceRef, fold_all, slice_for, windows_of, with_ledger
from agent.ledger.records import Kind, LedgerError, Record
from agent.ledger.store import AUTO_EXCLUSION, AUTO_MAINTENANCE, Ledger

__all__ = [
    "AUTO_EXCLUSION",
    "AUTO_MAINTENANCE",
    "Kind",
    "Ledger",
    "LedgerError",
    "LedgerSlice",
    "LedgerWindow",
    "Record",
    "ServiceRef",
    "fold_all",
    "slice_for",
    "windows_of",
    "with_ledger",
]
