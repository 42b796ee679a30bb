"""Built-in content checks on claims (NPI, code shapes, dates, amounts).

A plugin: it imports claimferry only through :mod:`claimferry.api`, and nothing
in the core or the harness imports it.
"""
