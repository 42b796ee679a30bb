"""Helpers for the harness tests: SFTP sessions that verify the host key, and a
hand-written 837P builder (test code of its own, not the core's writer)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from claimferry.x12.segments import Segment, segments_from_bytes
from claimferry_harness import MockOfficeAlly

Connect = Callable[..., paramiko.SFTPClient]


class Session:
    """A paramiko transport + SFTP client that checked the server's host key."""

    def __init__(
        self,
        server: MockOfficeAlly,
        username: str,
        *,
        password: str | None = None,
        pkey: paramiko.PKey | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.transport = paramiko.Transport((server.host, server.port))
        self.transport.banner_timeout = timeout
        try:
            self.transport.start_client(timeout=timeout)
            key = self.transport.get_remote_server_key()
            assert f"{key.get_name()} {key.get_base64()}" == server.host_key_openssh
            if pkey is not None:
                self.transport.auth_publickey(username, pkey)
            else:
                self.transport.auth_password(username, password or "")
            self.sftp = paramiko.SFTPClient.from_transport(self.transport)
            assert self.sftp is not None
        except BaseException:
            self.transport.close()
            raise

    def close(self, timeout: float = 10.0) -> None:
        """Close the SFTP channel and the transport, and join the transport's thread.

        The server may have closed the connection first (it was stopped, or a
        fault dropped it) before this client's transport thread noticed: then
        the channel's goodbye fails with EOF, and there is nothing left to close.
        """
        try:
            self.sftp.close()
        except EOFError:
            pass
        finally:
            self.transport.close()
            self.transport.join(timeout)
            assert not self.transport.is_alive(), "client transport thread did not end"


def new_ed25519() -> tuple[paramiko.Ed25519Key, str, bytes]:
    """A fresh client key: paramiko key, OpenSSH public line, OpenSSH private PEM."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))
    return key, f"{key.get_name()} {key.get_base64()}", pem


def upload(sftp: paramiko.SFTPClient, data: bytes, name: str, folder: str = "inbound") -> None:
    """Upload as a careful client does: a temporary name, then posix-rename."""
    with sftp.open(f"{folder}/{name}.part", "wb") as stream:
        stream.write(data)
    sftp.posix_rename(f"{folder}/{name}.part", f"{folder}/{name}")


def segments(data: bytes) -> list[Segment]:
    return segments_from_bytes(data, "response")


def by_id(segs: list[Segment], seg_id: str) -> list[Segment]:
    return [s for s in segs if s.id == seg_id]


# --- a small 837P of our own --------------------------------------------------


@dataclass
class Line:
    code: str
    charge: str
    units: str = "4"
    date: str = "20240902"
    modifiers: tuple[str, ...] = ()
    control: str | None = None
    """REF*6R, the line item control number."""


@dataclass
class TestClaim:
    claim_id: str
    payer_id: str = "60054"
    lines: list[Line] = field(default_factory=lambda: [Line("97153", "120.00")])
    total: str | None = None
    prior_auth: str | None = None
    npi: str = "1245319599"
    responsibility: str = "P"
    """SBR01: P primary, S secondary, T tertiary."""
    primary_paid: tuple[str, str] | None = None
    """A primary payer's claim-level adjudication (2320 AMT*D, CAS*PR*2): paid, coinsurance."""

    __test__ = False


def build_837(
    claims: list[TestClaim],
    *,
    isa13: str = "000000101",
    gs06: str = "101",
    st02: str = "0101",
    se_count_delta: int = 0,
) -> bytes:
    """A valid 837P (005010X222A1) with one subscriber loop per claim."""
    body = [
        f"ST*837*{st02}*005010X222A1",
        "BHT*0019*00*BATCH101*20240903*1200*CH",
        "NM1*41*2*SUNRISE BILLING*****46*SUNRISE01",
        "PER*IC*BILLING DESK*TE*5555550100",
        "NM1*40*2*OFFICE ALLY*****46*330897513",
    ]
    hl = 0
    for claim in claims:
        hl += 1
        parent = hl
        body += [
            f"HL*{hl}**20*1",
            "PRV*BI*PXC*103K00000X",
            f"NM1*85*2*SUNRISE ABA CLINIC*****XX*{claim.npi}",
            "N3*100 MAIN ST",
            "N4*SPRINGFIELD*IL*627010000",
            "REF*EI*371234567",
        ]
        hl += 1
        total = claim.total or f"{sum(float(line.charge) for line in claim.lines):.2f}"
        body += [
            f"HL*{hl}*{parent}*22*0",
            f"SBR*{claim.responsibility}*18*GRP100******CI",
            "NM1*IL*1*DOE*JANE****MI*MEM123456",
            "N3*1 ELM ST",
            "N4*SPRINGFIELD*IL*627010000",
            "DMG*D8*20150101*F",
            f"NM1*PR*2*TEST PAYER*****PI*{claim.payer_id}",
            f"CLM*{claim.claim_id}*{total}***11:B:1*Y*A*Y*Y",
        ]
        if claim.prior_auth:
            body.append(f"REF*G1*{claim.prior_auth}")
        body.append("HI*ABK:F840")
        if claim.primary_paid is not None:
            paid, coinsurance = claim.primary_paid
            body += [
                "SBR*P*18*******CI",
                f"CAS*PR*2*{coinsurance}",
                f"AMT*D*{paid}",
                "OI***Y***Y",
                "NM1*IL*1*DOE*JANE****MI*PRI123456",
                "NM1*PR*2*PRIMARY PAYER*****PI*87726",
                "DTP*573*D8*20240920",
            ]
        for number, line in enumerate(claim.lines, start=1):
            procedure = ":".join(["HC", line.code, *line.modifiers])
            body += [
                f"LX*{number}",
                f"SV1*{procedure}*{line.charge}*UN*{line.units}***1",
                f"DTP*472*D8*{line.date}",
            ]
            if line.control:
                body.append(f"REF*6R*{line.control}")
    body.append(f"SE*{len(body) + 1 + se_count_delta}*{st02}")
    lines = [
        f"ISA*00*          *00*          *ZZ*SUNRISE01      *ZZ*330897513      "
        f"*240903*1200*^*00501*{isa13}*0*T*:",
        f"GS*HC*SUNRISE01*330897513*20240903*1200*{gs06}*X*005010X222A1",
        *body,
        f"GE*1*{gs06}",
        f"IEA*1*{isa13}",
    ]
    return "".join(f"{line}~\n" for line in lines).encode("ascii")
