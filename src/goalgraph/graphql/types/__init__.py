"""strawberry types of the schema, one module per area."""
