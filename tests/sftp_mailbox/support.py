"""A made-up clearinghouse, ACME, with its own folders, names and responses: a profile
on the shared SFTP mailbox and nothing else, as a plugin author would write it."""

from __future__ import annotations

from typing import Any

from claimferry.api import (
    Account,
    ClaimTransport,
    Clearinghouse,
    FileNaming,
    Mailbox,
    Receiver,
    RetryPolicy,
    mailbox_transport,
)

INBOUND, OUTBOUND = "to_acme", "from_acme"
ANSWER_PATTERN = r"^ACME_\d{9}_(?:T|P)\.x12$"
"""How ACME recognises a claim file; the mock is told the same rule."""
RESPONSES = r"\d+_(?:999|277CA|PAYER_277CA|ERA_835_5010)_.*"
"""ACME's responses: X12 only. Anything else in its outbound is not ACME's to read."""

ACME = Clearinghouse(
    name="acme",
    label="ACME Claims",
    receiver=Receiver("ZZ", "ACMECLAIMS", "ACMECLAIMS", "ACME CLAIMS", "ACMECLAIMS"),
    transport="acme-sftp",
    claim_file_name=lambda naming: (
        f"ACME_{naming.interchange_control_number:09d}_{'T' if naming.test else 'P'}.x12"
    ),
    mailbox=Mailbox(
        inbound=INBOUND,
        outbound=OUTBOUND,
        responses=RESPONSES,
        login_hint="ACME sends the SFTP password by letter.",
    ),
)


def acme_name(control_number: int) -> str:
    return ACME.claim_file_name(FileNaming("sunrise", "SUNRISE01", True, control_number))


def acme_transport() -> ClaimTransport:
    return mailbox_transport(
        "acme-sftp",
        ACME,
        policy=RetryPolicy(base_delay=0.01, max_delay=0.02),
        description="ACME over SFTP",
    )


def acme_account(host: str, port: int, host_key: str, **sftp: Any) -> Account:
    """An account whose sftp section names no folders: they come from the profile."""
    return Account.model_validate(
        {
            "name": "sunrise",
            "clearinghouse": "acme",
            "submitter_id": "SUNRISE01",
            "sftp": {"host": host, "port": port, "host_key": host_key, "retries": 1, **sftp},
        }
    )
