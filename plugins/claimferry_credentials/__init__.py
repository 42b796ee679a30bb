"""Built-in credential sources: env, file, keyring, store.

A plugin: it imports claimferry only through :mod:`claimferry.api`, and nothing
in the core or the harness imports it.
"""
