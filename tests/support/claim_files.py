"""The claims files the 837P tests write, and the envelope they write them in."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from claimferry.config import Contact
from claimferry.types import Receiver
from claimferry.x12.writer837 import Envelope

DATA = Path(__file__).parents[1] / "data" / "claims"
SAMPLE = Path(__file__).parents[2] / "core" / "claimferry" / "data" / "sample_claims.yaml"
CLAIM_FILES = [*sorted(DATA.glob("*.yaml")), SAMPLE]

ENVELOPE = Envelope(
    sender_qualifier="ZZ",
    sender_id="SUB123",
    receiver=Receiver(
        isa_qualifier="ZZ", isa_id="RECV01", gs_id="RECVGS", name="Some House", id="RECV1000B"
    ),
    submitter_name="Sunrise ABA Therapy LLC",
    contact=Contact(name="Jo Biller", phone="2175550100", email="jo@example.com"),
    test=True,
    interchange_control_number=42,
    group_control_number=7,
    transaction_set_control_number=3,
    created=datetime(2026, 11, 20, 9, 5),
)
