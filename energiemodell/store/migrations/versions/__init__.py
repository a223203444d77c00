"""Schema revisions of the store, oldest first."""
