"""``python -m claimferry_harness serve ...`` without the main claimferry CLI."""

from claimferry_harness.cli import harness_group

if __name__ == "__main__":
    harness_group()(prog_name="python -m claimferry_harness")
