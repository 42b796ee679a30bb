"""Office Ally payer list and enrollment validators (filled in as it lands)."""
