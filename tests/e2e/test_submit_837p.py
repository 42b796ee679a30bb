"""An 837P another system wrote, submitted as it is: re-enveloped with the account's
control numbers, uploaded to the mock, and its claims tracked to their answers."""

from __future__ import annotations

from claimferry.claims_input import load_claims
from claimferry.x12.writer837 import write_837p
from e2e.support import ACCOUNT, E2E
from support.claim_files import ENVELOPE


def test_an_837p_is_submitted_with_our_envelope_and_tracked(e2e: E2E) -> None:
    claims = load_claims(e2e.claims_file()).claims
    practice = e2e.tmp / "practice.837"
    practice.write_bytes(write_837p(claims, ENVELOPE))  # interchange 42, another submitter
    e2e.ok("submit", str(practice), "--account", ACCOUNT)
    (uploaded,) = e2e.inbound()
    sent = uploaded.read_bytes()
    assert b"*000000001*0*T*:~" in sent and b"*000000042*" not in sent
    assert b"SUB123" not in sent, "the file's own submitter is replaced by the account's"
    assert list(load_claims(uploaded).claims) == list(load_claims(practice).claims)
    e2e.wait_answered(3)
    e2e.ok("fetch", "--account", ACCOUNT)
    found = e2e.claims_by_id()
    assert set(found) == {claim.id for claim in claims}
    assert all(claim["state"] != "submitted" for claim in found.values()), found
