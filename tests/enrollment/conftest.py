"""Fixtures for the enrollment tests; the data and helpers are in ``enrollment.support``."""

from enrollment.support import payers_csv, run, state_dir

__all__ = ["payers_csv", "run", "state_dir"]
