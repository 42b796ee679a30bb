"""Findings as people and machines read them: grouped lines, a summary, JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from claimferry.cli.output import plural
from claimferry.findings import Finding, Severity, claim_label

GROUP_SAMPLE = 3
"""Claim ids a grouped line names before it says how many more."""


@dataclass(frozen=True)
class FindingsReport:
    """Every finding about one claims file, in file order, ready to print or emit.

    Repeated findings (same severity, code, payer and advice) are grouped for
    people: on 5,000 claims one payer's enrollment warning is one line, not
    5,000 that bury the one error that matters. JSON always lists each one.
    """

    source: str
    claims: int
    findings: Sequence[Finding]
    payers: Mapping[str, str] = field(default_factory=dict)
    """Each claim id's payer id, to group by and to emit."""

    @property
    def errors(self) -> int:
        return sum(f.severity == Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "claims": self.claims,
            "errors": self.errors,
            "warnings": self.warnings,
        }

    def counts(self) -> str:
        """``2 errors, 1 warning``."""
        return f"{plural(self.errors, 'error')}, {plural(self.warnings, 'warning')}"

    def blocking(self, *, strict: bool) -> str:
        """What stops a build: the errors, or with ``--strict`` the warnings too."""
        return f"{self.counts()} (--strict)" if strict else plural(self.errors, "error")

    def summary_line(self) -> str:
        """``2 errors, 1 warning in claims.yaml (40 claims)``."""
        return f"{self.counts()} in {self.source} ({plural(self.claims, 'claim')})"

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "severity": f.severity.value,
                "code": f.code,
                "file": self.source,
                "claim": f.claim_id,
                "field": f.field,
                "payer": self.payers.get(f.claim_id) if f.claim_id else None,
                "message": f.message,
                "fix": f.fix or _advice(f.message),
                "validator": f.validator,
            }
            for f in self.findings
        ]

    def lines(self, *, each: bool = False, limit: int | None = None) -> list[str]:
        """Errors first; grouped unless ``each``; at most ``limit`` finding lines,
        then one line saying how many were left out and how to see them."""
        ordered = sorted(self.findings, key=lambda f: f.severity != Severity.ERROR)
        groups: dict[tuple[Any, ...], list[Finding]] = {}
        for finding in ordered:
            key: tuple[Any, ...] = (id(finding),)
            if not each and finding.claim_id is not None:
                payer = self.payers.get(finding.claim_id)
                key = (finding.severity, finding.code, payer, finding.message, finding.fix)
            groups.setdefault(key, []).append(finding)
        out = [self._line(group) for group in groups.values()]
        grouped = len(self.findings) - len(groups)
        if limit is not None and len(out) > limit:
            left = len(out) - limit
            out = out[:limit]
            out.append(
                f"... {plural(left, 'more line')} not shown: raise --max-findings, "
                "or use --json for every finding"
            )
        if grouped:
            out.append(
                f"({plural(grouped, 'repeated finding')} grouped: -v or --all-findings "
                "shows each one)"
            )
        return out

    def _line(self, group: Sequence[Finding]) -> str:
        """``error CODE file: claim ID: field: message (fix)``, or for a group
        ``... file: N claims to payer P (ID, ID, ID, ...): field: ...``."""
        first = group[0]
        fix = f" ({first.fix})" if first.fix else ""
        fields = list(dict.fromkeys(f.field for f in group if f.field))
        at = ", ".join(fields[:GROUP_SAMPLE]) + (", ..." if len(fields) > GROUP_SAMPLE else "")
        ids = list(dict.fromkeys(f.claim_id for f in group if f.claim_id))
        if len(ids) > 1:
            sample = ", ".join(ids[:GROUP_SAMPLE]) + (", ..." if len(ids) > GROUP_SAMPLE else "")
            payer = self.payers.get(first.claim_id or "")
            to = f" to payer {payer}" if payer else ""
            where = f"{plural(len(ids), 'claim')}{to} ({sample})"
        else:
            where = claim_label(first.claim_id) if first.claim_id else ""
        times = f" (x{len(group)})" if len(ids) <= 1 and len(group) > 1 else ""
        place = "".join(f"{x}: " for x in (self.source, where, at) if x)
        return f"{first.severity.value} {first.code} {place}{first.message}{fix}{times}"


def _advice(message: str) -> str | None:
    """The fix a message carries after "; " (``use YYYY-MM-DD``, ``copy the NPI
    again from NPPES``): the text shows it once, in the message; JSON gives it
    its own key too."""
    _, separator, advice = message.partition("; ")
    return advice if separator else None
