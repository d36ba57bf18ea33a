"""runbook: a guided, audited cross-account AWS cutover (the engine; no Textual here)."""

__version__ = "0.1.0"
