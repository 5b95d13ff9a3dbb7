"""Goals: validation of drafts, the goal service (create, update, lock, targets, revisions)."""
