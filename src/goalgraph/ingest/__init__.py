"""Getting CRM facts in: validation, idempotent upserts and bulk import from files."""
