"""claimferry: professional claims (X12 5010 837P) to clearinghouses and back."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("claimferry")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
