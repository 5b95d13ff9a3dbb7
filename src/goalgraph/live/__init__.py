"""Live progress: fact-change events fanned out to subscribers, across processes on PostgreSQL."""
