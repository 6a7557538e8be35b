"""The data lifecycle: old records archived (kinds, archiver), read back (verify, restore) and members forgotten."""
