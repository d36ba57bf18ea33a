"""Which account are we really talking to."""
