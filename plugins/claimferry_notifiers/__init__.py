"""The built-in notifiers: e-mail over SMTP with STARTTLS, and a signed webhook.

A plugin: it imports claimferry only through :mod:`claimferry.api`, and nothing
in the core or the harness imports it.
"""
