"""goalgraph: goals and sales targets for CRMs, computed live in the database."""

__version__ = "0.1.0"
