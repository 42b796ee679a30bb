"""Fixtures for the end-to-end tests: the real CLI against the mock Office Ally on loopback.

Every test gets its own harness (``oa_harness``), its own accounts config
pinning the harness's host key, its own state directory, and SFTP
credentials in environment variables (the ``env`` credential source).
"""

from e2e.support import e2e_world  # noqa: F401  (the ``e2e`` fixture, beside its class)
