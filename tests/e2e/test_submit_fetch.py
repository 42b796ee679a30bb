"""Submit, fetch, status and audit through the CLI against the mock Office Ally."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from e2e.support import (
    ACCOUNT,
    E2E,
    RESPONSE_MARKERS,
    claim_segments,
    component_separator,
    final_names,
    mentions,
    sample_phi,
    sha256_file,
)

UPLOADED = re.compile(
    r"^uploaded (?P<name>\S+)  (?P<size>\d+) bytes  sha256 (?P<sha>[0-9a-f]{64})  "
    r"\(batch (?P<batch>\d+), (?P<claims>\d+) claims\)$",
    re.M,
)
SAMPLE_IDS = ["SUN-1001", "SUN-1002", "SUN-1003", "SUN-1004"]


def test_submit_fetch_status_audit(e2e: E2E) -> None:
    claims = e2e.claims_file()
    result = e2e.ok("submit", str(claims), "--account", ACCOUNT)

    # exactly one file in inbound, under an Office Ally test-file name
    inbound = e2e.inbound()
    assert len(inbound) == 1, inbound
    uploaded = inbound[0]
    assert "837P" in uploaded.name and "OATEST" in uploaded.name
    assert not uploaded.name.startswith(".") and uploaded.suffix == ".txt"

    # submit prints the remote name, size and SHA-256 of what is on the server
    printed = UPLOADED.findall(result.stdout)
    assert len(printed) == 1, result.stdout
    match = UPLOADED.search(result.stdout)
    assert match is not None
    assert match["name"] == uploaded.name
    assert int(match["size"]) == uploaded.stat().st_size
    assert match["sha"] == sha256_file(uploaded)
    assert match["claims"] == "4"

    # the archived copy of what was sent is the same file
    archived = e2e.state_dir / "archive" / ACCOUNT / "sent" / uploaded.name
    assert archived.read_bytes() == uploaded.read_bytes()

    # the harness answers with 999, both 277CAs, EDI_STATUS and 835
    responses = e2e.wait_answered(5)
    assert len(responses) == len(RESPONSE_MARKERS)
    assert all(any(m in p.name for p in responses) for m in RESPONSE_MARKERS)

    fetched = e2e.json("fetch", "--account", ACCOUNT)
    assert [r["account"] for r in fetched] == [ACCOUNT]
    files = {f["name"]: f for f in fetched[0]["files"]}
    assert sorted(files) == [p.name for p in responses]
    kinds = {f["kind"] for f in files.values()}
    assert kinds == {"999", "277CA", "EDI_STATUS", "835"}
    for path in responses:
        entry = files[path.name]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == sha256_file(path)
        assert entry["error"] is None and entry["claims_updated"] == 4
        archive = e2e.state_dir / "archive" / ACCOUNT / "received" / path.name
        assert archive.read_bytes() == path.read_bytes()
    # responses are never deleted on the server
    assert [p.name for p in e2e.outbound()] == sorted(files)

    # fetching again downloads nothing new
    again = e2e.ok("fetch", "--account", ACCOUNT)
    assert f"{ACCOUNT}: 0 new file(s)" in again.stdout
    assert e2e.json("fetch", "--account", ACCOUNT) == [{"account": ACCOUNT, "files": []}]

    # every claim's history, from built to paid
    status = e2e.status()
    by_id = {c["claim"]: c for c in status["claims"]}
    assert sorted(by_id) == SAMPLE_IDS
    for claim_id, claim in by_id.items():
        states = [h["state"] for h in claim["history"]]
        assert states[:2] == ["built", "uploaded"], (claim_id, states)
        assert "accepted" in states and "acknowledged" in states, (claim_id, states)
        assert states[-1] == claim["state"] == "paid", (claim_id, states)
        assert claim["batch"] == 1 and claim["account"] == ACCOUNT
        assert claim["payer_claim_number"], claim_id
        history_files = {h["file"] for h in claim["history"]}
        assert uploaded.name in history_files
        assert {p.name for p in responses} <= history_files
    assert by_id["SUN-1001"]["payer_claim_number"] == "1000000010001"
    assert "CO-197" in by_id["SUN-1003"]["detail"]  # 97151 without prior authorization
    (batch,) = status["batches"]
    assert batch["state"] == "uploaded" and batch["remote_name"] == uploaded.name
    assert batch["host_fingerprint"] == e2e.harness.fingerprint

    # the audit trail: upload and fetch entries with host, name, size, sha256
    audit = e2e.audit()
    uploads = [e for e in audit if e["action"] == "upload"]
    assert len(uploads) == 1
    assert uploads[0] | {"at": None, "actor": None} == {
        "at": None,
        "actor": None,
        "account": ACCOUNT,
        "action": "upload",
        "host_fingerprint": e2e.harness.fingerprint,
        "file_name": uploaded.name,
        "size": uploaded.stat().st_size,
        "sha256": sha256_file(uploaded),
        "detail": None,
    }
    fetches = {e["file_name"]: e for e in audit if e["action"] == "fetch"}
    assert sorted(fetches) == [p.name for p in responses]
    for path in responses:
        entry = fetches[path.name]
        assert entry["host_fingerprint"] == e2e.harness.fingerprint
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == sha256_file(path)
        assert entry["account"] == ACCOUNT and entry["actor"]
    # ... and no PHI anywhere in it, nor in the ledger's status
    phi = sample_phi()
    assert mentions(json.dumps(audit), phi) == []
    assert mentions(e2e.ok("audit").stdout, phi) == []
    assert mentions(json.dumps(status), phi) == []


def test_same_claims_again_refused_then_resubmitted_as_replacements(e2e: E2E) -> None:
    claims = e2e.claims_file()
    e2e.ok("submit", str(claims), "--account", ACCOUNT)
    first = e2e.inbound()
    e2e.wait_answered(4)
    e2e.ok("fetch", "--account", ACCOUNT)
    learned = {c["claim"]: c["payer_claim_number"] for c in e2e.status()["claims"]}
    (batch,) = e2e.status()["batches"]

    # the same file again is refused, naming the batch and its date; nothing is sent
    refused = e2e.run("submit", str(claims), "--account", ACCOUNT)
    assert refused.exit_code == 1, refused.output
    assert "Traceback" not in refused.output
    for claim_id in SAMPLE_IDS:
        assert (
            f"error: {batch['file_name']}: {claim_id}: already sent in batch {batch['id']} "
            f"({batch['created_at'][:10]})"
        ) in refused.stderr
    assert "--resubmit" in refused.stderr
    assert e2e.inbound() == first
    assert len(e2e.status()["batches"]) == 1

    # --resubmit sends replacements: frequency 7 with the payer's claim number
    result = e2e.ok("submit", str(claims), "--account", ACCOUNT, "--resubmit")
    names = final_names(e2e.harness.inbound_dir(e2e.users[ACCOUNT].username))
    assert len(names) == 2 and first[0].name in names
    (replacement_name,) = set(names) - {first[0].name}
    assert f"uploaded {replacement_name}" in result.stdout
    assert "837P" in replacement_name and "OATEST" in replacement_name
    replacement = e2e.harness.inbound_dir(e2e.users[ACCOUNT].username) / replacement_name
    sep = component_separator(replacement)
    sent = claim_segments(replacement)
    assert sorted(sent) == SAMPLE_IDS
    for claim_id, segs in sent.items():
        clm = segs[0]
        assert clm[5].split(sep)[2] == "7", (claim_id, clm)
        f8 = [s[2] for s in segs if s[:2] == ["REF", "F8"]]
        assert len(f8) == 1, (claim_id, f8)
        # the payer's latest number wins, even over a replacement's own REF*F8 (SUN-1002)
        assert f8 == [learned[claim_id]], (claim_id, f8, learned)
    statuses = e2e.status()
    assert [b["state"] for b in statuses["batches"]] == ["uploaded", "uploaded"]
    latest = {c["claim"]: c for c in statuses["claims"]}
    assert {c["batch"] for c in latest.values()} == {2}

    # the replacements are answered and tracked in their own batch
    e2e.wait_answered(8)
    e2e.ok("fetch", "--account", ACCOUNT)
    latest = {c["claim"]: c for c in e2e.status()["claims"] if c["batch"] == 2}
    assert {c["state"] for c in latest.values()} == {"paid"}


def _only(claim_id: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        (claim,) = [c for c in data["claims"] if c["id"] == claim_id]
        claim.update(changes)
        data["claims"] = [claim]

    return change


def test_an_edited_claim_is_not_sent_again_as_an_original(e2e: E2E) -> None:
    """Same id, other content: the payer would see a duplicate claim."""
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    e2e.wait_answered(4)
    e2e.ok("fetch", "--account", ACCOUNT)
    (batch,) = e2e.status()["batches"]
    first = e2e.inbound()

    def edit_charge(data: dict[str, Any]) -> None:
        data["claims"][0]["lines"][0]["charge"] = 481.00

    refused = e2e.run("submit", str(e2e.claims_file(change=edit_charge)), "--account", ACCOUNT)
    assert refused.exit_code == 1, refused.output
    assert (
        f"{batch['file_name']}: SUN-1001: already sent in batch {batch['id']} "
        f"({batch['created_at'][:10]}) with other content"
    ) in refused.stderr
    assert "SUN-1003: already sent" in refused.stderr
    assert "--resubmit" in refused.stderr
    assert e2e.inbound() == first

    # a file that marks the edit as a replacement says what it is: it goes
    number = e2e.claims_by_id()["SUN-1001"]["payer_claim_number"]

    def replacement(data: dict[str, Any]) -> None:
        edit_charge(data)
        _only("SUN-1001", frequency="replacement", payer_claim_number=number)(data)

    correction = e2e.claims_file("correction.yaml", change=replacement)
    e2e.ok("submit", str(correction), "--account", ACCOUNT)
    (sent,) = set(e2e.inbound()) - set(first)
    clm = claim_segments(sent)["SUN-1001"][0]
    assert clm[2] == "681" and clm[5].split(component_separator(sent))[2] == "7"
    again = e2e.run("submit", str(correction), "--account", ACCOUNT)
    assert again.exit_code == 1 and "SUN-1001: already sent in batch 2" in again.stderr


def test_a_rejected_claim_goes_again_as_an_original(e2e: E2E) -> None:
    """The payer's front end rejected it (277CA A7): it never entered adjudication."""
    rejected_id = "SUN-REJECT-1001"

    def rename(data: dict[str, Any]) -> None:
        data["claims"][0]["id"] = rejected_id

    e2e.ok("submit", str(e2e.claims_file(change=rename)), "--account", ACCOUNT)
    e2e.wait_answered(4)
    e2e.ok("fetch", "--account", ACCOUNT)
    assert e2e.claims_by_id()[rejected_id]["state"] == "payer_rejected"
    first = e2e.inbound()

    def only_rejected(data: dict[str, Any]) -> None:
        rename(data)
        _only(rejected_id)(data)

    again = e2e.claims_file("again.yaml", change=only_rejected)
    for args in ([], ["--resubmit"]):  # --resubmit too: no replacement of what the payer lacks
        e2e.ok("submit", str(again), "--account", ACCOUNT, *args)
        (sent,) = set(e2e.inbound()) - set(first)
        first = e2e.inbound()
        clm = claim_segments(sent)[rejected_id][0]
        assert clm[5].split(component_separator(sent))[2] == "1", clm
        assert not [s for s in claim_segments(sent)[rejected_id] if s[:2] == ["REF", "F8"]]
        assert e2e.harness.wait_idle(30)
        e2e.ok("fetch", "--account", ACCOUNT)
    others = e2e.run(
        "submit", str(e2e.claims_file("all.yaml", change=rename)), "--account", ACCOUNT
    )
    assert others.exit_code == 1 and rejected_id not in others.stderr
    assert "SUN-1002: already sent in batch 1" in others.stderr


def test_a_rejected_replacement_does_not_undo_the_paid_original(e2e: E2E) -> None:
    """Paid, then a replacement the payer rejects: the claim is still the payer's."""
    only = e2e.claims_file("one.yaml", change=_only("SUN-1001"))
    e2e.ok("submit", str(only), "--account", ACCOUNT)
    e2e.wait_answered(4)
    e2e.ok("fetch", "--account", ACCOUNT)
    paid = e2e.claims_by_id()["SUN-1001"]
    assert paid["state"] == "paid" and paid["payer_claim_number"]

    e2e.harness.rules = dataclasses.replace(e2e.harness.rules, reject_claim_ids="SUN-1001")
    e2e.ok("submit", str(only), "--account", ACCOUNT, "--resubmit")
    e2e.wait_answered(7)  # 999, report and 277CA: no 835 for a rejected claim
    e2e.ok("fetch", "--account", ACCOUNT)
    assert e2e.claims_by_id()["SUN-1001"]["state"] == "payer_rejected"
    e2e.harness.rules = dataclasses.replace(e2e.harness.rules, reject_claim_ids="REJECT")
    sent = e2e.inbound()

    refused = e2e.run("submit", str(only), "--account", ACCOUNT)
    assert refused.exit_code == 1, refused.output
    assert "SUN-1001: already sent in batch 1" in refused.stderr
    assert e2e.inbound() == sent

    e2e.ok("submit", str(only), "--account", ACCOUNT, "--resubmit")
    (latest,) = set(e2e.inbound()) - set(sent)
    segs = claim_segments(latest)["SUN-1001"]
    assert segs[0][5].split(component_separator(latest))[2] == "7"
    assert [s[2] for s in segs if s[:2] == ["REF", "F8"]] == [paid["payer_claim_number"]]


def test_an_835_that_does_not_balance_is_recorded_and_reported(e2e: E2E) -> None:
    """The payer's own arithmetic is wrong (BPR02 is not the claims' paid total less
    the PLBs): the 835 is still read, every claim moves, and fetch says so."""
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    (era,) = [p for p in e2e.wait_answered(5) if "_ERA_835_" in p.name]
    text = era.read_text(encoding="latin-1")
    bpr = re.search(r"BPR\*(\w)\*([\d.]+)\*", text)
    assert bpr is not None
    wrong = f"BPR*{bpr[1]}*{Decimal(bpr[2]) + 1}*"
    era.write_text(text.replace(bpr[0], wrong, 1), encoding="latin-1")

    fetched = e2e.ok("fetch", "--account", ACCOUNT).stdout
    (line,) = [x for x in fetched.splitlines() if "NOT BALANCED" in x]
    assert f"payment {Decimal(bpr[2]) + 1:.2f} differs from claims paid" in line
    assert f"{era.name}  {era.stat().st_size} bytes  835, 4 claim update(s)" in fetched
    (payment,) = [p for p in e2e.json("remits", "list") if p["imbalance"]]
    assert payment["imbalance"] in line
    rows = list(csv.DictReader(io.StringIO(e2e.ok("remits", "export").stdout)))
    balanced = {r["trace_number"]: r["payment_balanced"] for r in rows}
    assert balanced.pop(payment["trace_number"]) == "false"
    assert set(balanced.values()) <= {"true"}


def test_an_835_off_on_every_line_prints_a_few_lines_and_a_count(e2e: E2E) -> None:
    e2e.ok("submit", str(e2e.claims_file()), "--account", ACCOUNT)
    (era,) = [p for p in e2e.wait_answered(5) if "_ERA_835_" in p.name]
    text = era.read_text(encoding="latin-1")

    def one_more_paid(found: re.Match[str]) -> str:
        return f"{found[1]}{Decimal(found[2]) + 1}{found[3]}"

    # each service line pays 1.00 more than its adjustments leave: every line is off
    wrong, lines = re.subn(r"(SVC\*[^*~]+\*[^*~]+\*)([^*~]+)([*~])", one_more_paid, text)
    assert lines > 5
    era.write_text(wrong, encoding="latin-1")

    fetched = e2e.ok("fetch", "--account", ACCOUNT).stdout
    assert sum("NOT BALANCED" in x for x in fetched.splitlines()) == 5
    listed = [p["imbalance"] for p in e2e.json("remits", "list") if p["imbalance"]]
    more = sum(imbalance.count("; ") + 1 for imbalance in listed) - 5
    assert f"    ... and {more} more (see 'claimferry remits list --json')" in fetched
