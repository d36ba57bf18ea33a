"""The Textual app: one screen per module, its .tcss beside it."""
