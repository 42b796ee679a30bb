"""The mock secondary payer reads COB claims with its own reader: it pays what the
payer before left on the patient, at line and claim level, and checks the balance."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from claimferry.claims_input import load_claims
from claimferry.x12.writer837 import write_837p
from claimferry_harness.adjudication import ACCEPTED, cob_balanced, payer_check, remit
from claimferry_harness.reader import Claim, read_interchange
from claimferry_harness.rules import ProcessingRules
from support.claim_files import DATA, ENVELOPE

RULES = ProcessingRules(check_billing_npi=False)
TR3_COB_SAMPLE = "837P_02_cob_secondary_dependent_2320_2330_svd.837"


def _claims(path: Path) -> list[Claim]:
    return read_interchange(path).claims


def test_the_tr3_sample_is_paid_its_claim_level_patient_responsibility(
    samples_dir: Path,
) -> None:
    """837P_02: the primary put 36.89 on the patient in 2320 (CAS*PR), its lines only CO."""
    (claim,) = _claims(samples_dir / TR3_COB_SAMPLE)
    assert payer_check(claim, RULES).status == ACCEPTED
    decided = remit(claim, RULES)
    assert decided.status == "2"
    assert decided.paid == Decimal("36.89")
    assert [line.paid for line in decided.lines] == [Decimal("36.89"), 0, 0]
    assert decided.patient_responsibility == 0


def _written(tmp_path: Path, **changes: object) -> Claim:
    original = load_claims(DATA / "secondary.yaml").claims[0]
    path = tmp_path / "cob.837"
    path.write_bytes(write_837p([dataclasses.replace(original, **changes)], ENVELOPE))
    (claim,) = _claims(path)
    return claim


def test_a_line_without_its_adjudication_or_a_paid_amount_off_the_lines_is_unbalanced(
    tmp_path: Path,
) -> None:
    claim = _written(tmp_path)
    assert cob_balanced(claim)
    # line 2 without its 2430: the lines that have one still balance, the claim does not
    claim.lines[1].prior.clear()
    assert not cob_balanced(claim)
    claim = _written(tmp_path)
    claim.prior[0].paid = Decimal(470)  # the lines paid 336 + 140
    assert not cob_balanced(claim)
