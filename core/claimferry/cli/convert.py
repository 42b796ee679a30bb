"""``claimferry convert``: an 837P a practice-management system wrote, as a claims file.

docs/claims.md ("837P files as input") says what is read and what cannot be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import TypeAdapter

from claimferry.claims import BillingProvider, Claim
from claimferry.cli.app import emit_json, json_option
from claimferry.cli.output import examples, plural
from claimferry.storage import atomic_write
from claimferry.x12.read837 import load_837p

_CLAIM = TypeAdapter(Claim)
_PROVIDER = TypeAdapter(BillingProvider)


def claims_yaml(claims: list[Claim], header: str) -> str:
    """The claims as a YAML claims file: the billing provider once at the top when
    the claims share one, each claim without the fields at their defaults."""
    providers = {claim.provider() for claim in claims}
    shared = providers.pop() if len(providers) == 1 else None
    document: dict[str, Any] = {}
    if shared is not None:
        document["billing_provider"] = _PROVIDER.dump_python(shared, mode="json", exclude_none=True)
    document["claims"] = []
    for claim in claims:
        dumped = _CLAIM.dump_python(claim, mode="json", exclude_none=True)
        if shared is not None:
            del dumped["billing_provider"]
        document["claims"].append(dumped)
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@click.command(
    epilog=examples(
        "claimferry convert claims.837 -o claims.yaml",
        "claimferry convert claims.837 -o claims.yaml --drop-unsupported --json",
    )
)
@click.argument("source", metavar="FILE.837", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the claims file (YAML).",
)
@click.option(
    "--drop-unsupported",
    is_flag=True,
    help="Leave out what the claim model cannot carry, listing each segment, instead of "
    "refusing the file.",
)
@json_option
def convert(source: Path, output: Path, drop_unsupported: bool, as_json: bool) -> None:
    """Write the claims of an 837P file as a claims file to read, edit and submit.

    Every loop the claim model covers is read, other payers (COB) included.
    A segment or element it cannot carry refuses the file, naming each one;
    with --drop-unsupported they are left out and listed, for review.
    """
    read = load_837p(source, strict=not drop_unsupported)
    claims = list(read.claims)
    header = (
        f"# Claims converted by claimferry from the 837P file {source.name}.\n"
        f"# Review them, then: claimferry submit {output}\n"
    )
    atomic_write(output, claims_yaml(claims, header).encode("utf-8"))
    if as_json:
        emit_json(
            {
                "source": str(source),
                "output": str(output),
                "claims": len(claims),
                "dropped": [{"location": p.location, "message": p.message} for p in read.dropped],
            }
        )
        return
    for problem in read.dropped:
        click.echo(f"left out: {problem.location}: {problem.message}", err=True)
    click.echo(f"wrote {plural(len(claims), 'claim')} to {output}")
