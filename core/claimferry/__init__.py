"""claimferry: professional claims (X12 5010 837P) to clearinghouses and back.

The core, the bottom floor: the claim model (``claims``, ``claims_input``),
config, the ledger, a batch's stages by job (``submission``: validate, build,
record, upload, recover; ``connection``: credentials and the one login;
``fetching``: download and read the answers), the shared SFTP mailbox, the
plugin manager and hook specs, and the ``x12`` and ``cli`` subpackages. It
imports no plugin and not the harness.

Who may import what: plugins (``plugins/``, third-party packages) import only
:mod:`claimferry.api`, the typed public surface; the harness
(``claimferry_harness``) and tests may import any core module. Nothing here may
import upward.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("claimferry")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
