"""Built-in content checks on claims (NPI, code shapes, dates, amounts)."""
