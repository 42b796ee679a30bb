"""``claimferry secondary build``: claims for the next payer, from the last one's 835.

docs/lifecycle.md ("Secondary billing") walks through it.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from pydantic import TypeAdapter

from claimferry.claims import Claim, ClaimsFile
from claimferry.claims_input import load_claims
from claimferry.cli.app import App, emit_json, json_option, pass_app
from claimferry.cli.output import examples
from claimferry.errors import ClaimferryError, InputError, Problem
from claimferry.secondary import (
    Adjudication,
    NotBillable,
    Trace,
    adjudications,
    next_payer_claim,
    payments,
)
from claimferry.storage import atomic_write
from claimferry.submission import claim_content_hash
from claimferry.x12.remit835 import read_835_file

_CLAIM = TypeAdapter(Claim)


class NothingToBill(ClaimferryError):
    """No claim of the payment(s) can go to a next payer; each reason was shown."""

    exit_code = 1


@click.group(
    epilog=examples(
        "claimferry secondary build --claims claims.yaml --trace EFT7788 -o secondary.yaml"
    )
)
def secondary() -> None:
    """Secondary and tertiary claims (coordination of benefits)."""


@secondary.command(
    "build",
    epilog=examples(
        "claimferry secondary build --claims claims.yaml --trace EFT7788 -o secondary.yaml",
        "claimferry secondary build --claims claims.yaml --trace EFT7788 --account sunrise --json "
        "-o secondary.yaml",
    ),
)
@click.option(
    "--claims",
    "claims_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The claims file the original claims were sent from.",
)
@click.option(
    "--from-835",
    "remit_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The payer's 835 (already fetched, so the ledger holds it): its payments' claims.",
)
@click.option("--trace", help="The payment with this check or EFT trace number (TRN02).")
@click.option(
    "--payer",
    "payer_id",
    help="With --trace: the payer (its id, or TRN03) when payers share the trace number.",
)
@click.option("--account", "account_name", help="Only this account's claims.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the claims file for the next payer, to review and then submit.",
)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@json_option
@pass_app
def build_secondary(
    app: App,
    claims_path: Path,
    remit_path: Path | None,
    trace: str | None,
    payer_id: str | None,
    account_name: str | None,
    output: Path,
    force: bool,
    as_json: bool,
) -> None:
    """Build the claims for the next payer from the ledger's record of an 835.

    Each claim of the payment goes to the payer its claim lists next in
    other_payers, with the paying payer's adjudication (paid amounts and every
    adjustment, by line) carried over. A claim the payer forwarded itself
    (crossover) or left nothing on the patient for is not built: the reason is
    shown. The original and its new claim are linked in the ledger.
    """
    if (remit_path is None) == (trace is None):
        raise InputError(
            [Problem("--from-835/--trace", "", "give one of them: the 835 file or its trace")]
        )
    if output.resolve() == claims_path.resolve():
        raise InputError([Problem("-o/--output", "", "is the --claims file: write elsewhere")])
    if output.exists() and not force:
        raise InputError([Problem(str(output), "", "exists already: give --force to overwrite it")])
    traces = [Trace(trace)] if trace is not None else _traces(remit_path)
    originals = load_claims(claims_path, max_bytes=app.claims_file_limit)
    with app.open_ledger() as ledger:
        account = app.account_filter(account_name, ledger)
        found = adjudications(ledger, payments(ledger, account, traces, payer_id))
        numbers = ", ".join(t.number for t in traces)
        if not found:
            raise NothingToBill(
                f"no claim of ours is recorded in payment {numbers}: fetch the 835 "
                "first (`claimferry fetch`), or check the trace number with `claimferry remits "
                "list`"
            )
        built, refused = _build(originals, found)
        notes = _authorisation_notes(originals, built)
        if built:
            document = {
                "claims": [_CLAIM.dump_python(c, mode="json", exclude_none=True) for c, _ in built]
            }
            header = (
                f"# Claims for the next payer, built by claimferry from payment "
                f"{numbers}.\n# Review them, then: claimferry submit {output}"
                f"{' --account ' + account if account else ''}\n"
            )
            header += "".join(f"# {note}\n" for note in notes)
            text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
            atomic_write(output, text.encode("utf-8"))
            for claim, adjudication in built:
                ledger.link_next_payer_claim(
                    adjudication.account,
                    adjudication.claim_row,
                    claim.id,
                    claim.payer_responsibility,
                )
    if as_json:
        emit_json(
            {
                "output": str(output) if built else None,
                "claims": [
                    {"claim": c.id, "from": a.claim_id, "payer": c.payer.id} for c, a in built
                ],
                "refused": [{"claim": claim_id, "reason": why} for claim_id, why in refused],
                "notes": notes,
            }
        )
    else:
        for claim, adjudication in built:
            click.echo(
                f"claim {claim.id}: {claim.payer_responsibility} claim to {claim.payer.name} "
                f"({claim.payer.id}) from claim {adjudication.claim_id}"
            )
        for note in notes:
            click.echo(f"note: {note}")
        for _, why in refused:
            click.echo(f"not built: {why}", err=True)
        if built:
            click.echo(f"wrote {len(built)} claim(s) to {output}: review them, then submit")
    if not built:
        raise NothingToBill("no claim to build: nothing was written")


def _traces(path: Path | None) -> list[Trace]:
    """Each payment of the 835 by its trace number and originator, so another payer's
    payment with the same number is not taken for it."""
    assert path is not None
    return [
        Trace(advice.payment.trace_number, advice.payment.trace_originator)
        for advice in read_835_file(path).payments
    ]


def _authorisation_notes(
    originals: ClaimsFile, built: list[tuple[Claim, Adjudication]]
) -> list[str]:
    """The original's prior authorisation was the paying payer's: the next payer needs its
    own, which only the operator can get, so it is left out and the gap is said."""
    by_id = {claim.id: claim for claim in originals}
    return [
        f"claim {claim.id}: claim {adjudication.claim_id} had a prior authorisation from "
        f"{by_id[adjudication.claim_id].payer.name}; add {claim.payer.name}'s own as "
        "prior_authorization if it requires one"
        for claim, adjudication in built
        if by_id[adjudication.claim_id].prior_authorization is not None
    ]


def _build(
    originals: ClaimsFile, found: list[Adjudication]
) -> tuple[list[tuple[Claim, Adjudication]], list[tuple[str, str]]]:
    by_id = {claim.id: claim for claim in originals}
    built: list[tuple[Claim, Adjudication]] = []
    refused: list[tuple[str, str]] = []
    for adjudication in found:
        original = by_id.get(adjudication.claim_id)
        if original is None:
            refused.append(
                (
                    adjudication.claim_id,
                    f"claim {adjudication.claim_id}: not in {originals.source}",
                )
            )
            continue
        if (
            adjudication.content_sha256 is not None
            and claim_content_hash(original) != adjudication.content_sha256
        ):
            refused.append(
                (
                    original.id,
                    f"claim {original.id}: {originals.source} holds other content than the "
                    "claim sent; use the file it was sent from",
                )
            )
            continue
        try:
            built.append((next_payer_claim(original, adjudication), adjudication))
        except NotBillable as exc:
            refused.append((original.id, str(exc)))
    return built, refused
