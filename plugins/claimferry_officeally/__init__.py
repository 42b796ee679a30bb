"""Office Ally: its profile on the shared SFTP mailbox (folders, file naming, envelope
IDs, which files are its responses), its reports (EDI_STATUS, zipped ERAs), and
its payer list and enrollment checks.

A plugin, loaded through its ``claimferry`` entry point: it imports claimferry
only through :mod:`claimferry.api`, and nothing in the core or the harness
imports it.
"""
