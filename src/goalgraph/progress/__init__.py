"""The progress engine: turns goal types' fact sources into per-period actuals in SQL."""
