"""Use cases. Services take keyword-only arguments and are the only code that commits."""
