"""The rehearsal: an embedded emulator seeded with a two-account world."""
