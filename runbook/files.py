"""The names of a run's files in its state directory (DESIGN.md §4), in one place.

Kept free of imports: `runbook rollback`'s lean path reads them too. The snapshot,
lease and watch files are named beside the code that writes them.
"""

AUDIT_FILE = "audit.jsonl"
STATE_FILE = "state.json"
SHARED_AUDIT_FILE = "shared-audit.jsonl"  # a team run: the shared chain as S3 holds it
