"""Tests of the mock Office Ally server (claimferry_harness)."""
