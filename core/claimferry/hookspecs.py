"""Hook specifications: the one place that says what a plugin can provide.

Every hook is named ``claimferry_*``, takes no arguments and yields
registration objects from :mod:`claimferry.types`. A plugin is a module or
object with functions of these names marked with ``@hookimpl``, registered
through the ``claimferry`` entry-point group:

.. code-block:: toml

    [project.entry-points.claimferry]
    my-clearinghouse = "my_package.plugin"
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from claimferry.types import (
    ClaimTransport,
    Clearinghouse,
    CliCommand,
    CredentialSource,
    EnrollmentValidator,
    Notifier,
    ResponseReader,
)

PROJECT = "claimferry"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class ClaimferrySpecs:
    """The hooks. Each returns an iterable of registrations (or nothing)."""

    @hookspec
    def claimferry_credential_sources(self) -> Iterable[CredentialSource]:  # type: ignore[empty-body]
        """Register sources of account secrets (env, file, keyring, a vault...).

        An account picks one with ``credentials: {source: NAME, ...}``.

        Example plugin::

            import os
            from claimferry.api import Credentials, CredentialSource, SecretStr, hookimpl

            def resolve(account):
                prefix = account.credentials.settings.get("prefix", "MYVAULT")
                return Credentials(
                    username=os.environ[f"{prefix}_USER"],
                    password=SecretStr(os.environ[f"{prefix}_PASSWORD"]),
                )

            @hookimpl
            def claimferry_credential_sources():
                yield CredentialSource(name="myvault", resolve=resolve, settings=("prefix",))
        """

    @hookspec
    def claimferry_enrollment_validators(self) -> Iterable[EnrollmentValidator]:  # type: ignore[empty-body]
        """Register checks that run over claims before anything is written.

        Every registered validator runs, in ``validate``, ``build`` and
        ``submit``; findings of severity ``error`` block.

        Example plugin::

            from claimferry.api import EnrollmentValidator, Finding, Severity, hookimpl

            def no_telehealth_to_acme(claims, context):
                for claim in claims:
                    if claim.payer.id == "ACME1" and claim.place_of_service == "02":
                        yield Finding(Severity.ERROR, "ACME-POS", "ACME takes no telehealth",
                                      claim.id, "place_of_service")

            @hookimpl
            def claimferry_enrollment_validators():
                yield EnrollmentValidator(name="acme-rules", check=no_telehealth_to_acme)
        """

    @hookspec
    def claimferry_claim_transports(self) -> Iterable[ClaimTransport]:  # type: ignore[empty-body]
        """Register ways to deliver claim files and collect responses.

        ``open(account, credentials)`` returns a connected, verified
        :class:`~claimferry.types.TransportSession`: ``upload`` atomically
        (temporary name, size check, rename), ``delivery_state`` (after a
        crash: delivered, partial or absent), ``list_responses``, ``download``
        (never deleting) and ``close``.

        Example plugin::

            from claimferry.api import ClaimTransport, DeliveryState, RemoteFile, UploadReceipt
            from claimferry.api import hookimpl
            import hashlib
            from pathlib import Path

            class FolderSession:
                # Delivers into a local folder: a transport's whole contract in miniature.

                host_fingerprint = "local"

                def __init__(self, account):
                    self.root = Path(account.credentials.settings["folder"])

                def upload(self, data, remote_name):
                    temporary = self.root / "inbound" / f".{remote_name}.part"
                    temporary.write_bytes(data)
                    temporary.rename(self.root / "inbound" / remote_name)
                    return UploadReceipt(remote_name, len(data),
                                         hashlib.sha256(data).hexdigest(), "local")

                def delivery_state(self, remote_name, size, sha256):
                    final = self.root / "inbound" / remote_name
                    if final.exists() and final.stat().st_size == size:
                        return DeliveryState.DELIVERED
                    if (self.root / "inbound" / f".{remote_name}.part").exists():
                        return DeliveryState.PARTIAL
                    return DeliveryState.ABSENT

                def list_responses(self):
                    return [RemoteFile(p.name, p.stat().st_size)
                            for p in (self.root / "outbound").iterdir()]

                def download(self, name):
                    return (self.root / "outbound" / name).read_bytes()

                def close(self):
                    pass

            @hookimpl
            def claimferry_claim_transports():
                yield ClaimTransport(name="folder",
                                     open=lambda account, credentials: FolderSession(account))
        """

    @hookspec
    def claimferry_clearinghouses(self) -> Iterable[Clearinghouse]:  # type: ignore[empty-body]
        """Register clearinghouse profiles: envelope IDs, file naming, transport.

        An account picks one with ``clearinghouse: NAME``.

        Example plugin::

            from claimferry.api import Clearinghouse, Receiver, hookimpl

            def name_file(naming):
                return f"{naming.submitter_id}_{naming.interchange_control_number:09d}.837"

            @hookimpl
            def claimferry_clearinghouses():
                yield Clearinghouse(
                    name="myhouse",
                    receiver=Receiver(isa_qualifier="ZZ", isa_id="MYHOUSE", gs_id="MYHOUSE",
                                      name="MY HOUSE", id="MYHOUSE"),
                    transport="myhouse-sftp",
                    claim_file_name=name_file,
                )
        """

    @hookspec
    def claimferry_response_readers(self) -> Iterable[ResponseReader]:  # type: ignore[empty-body]
        """Register readers for a clearinghouse's own response files (its text reports).

        X12 responses (TA1, 999, 277CA, 835) are read by the core; this hook
        is for everything else a clearinghouse puts in the response folder.
        ``fetch`` runs the first reader whose ``matches`` says yes and moves
        each claim through the states its ``claim_updates()`` name.

        Example plugin::

            from claimferry.api import ClaimUpdate, ResponseReader, hookimpl

            class Report:
                kind = "MYHOUSE_STATUS"

                def __init__(self, rows):
                    self.rows = rows

                def claim_updates(self):
                    return [ClaimUpdate(claim_id=c, state="rejected", detail=why)
                            for c, why in self.rows]

                def to_dict(self):
                    return {"kind": self.kind, "rejected": len(self.rows)}

                def render(self):
                    return f"{len(self.rows)} claims rejected"

            def read(path):
                rows = [line.split("|", 1) for line in path.read_text().splitlines()]
                return Report([(c, why) for c, why in rows])

            @hookimpl
            def claimferry_response_readers():
                yield ResponseReader(
                    name="myhouse-status",
                    matches=lambda name, head: name.endswith(".status"),
                    read=read,
                )
        """

    @hookspec
    def claimferry_cli_commands(self) -> Iterable[CliCommand]:  # type: ignore[empty-body]
        """Add subcommands to the ``claimferry`` CLI.

        Example plugin::

            import click
            from claimferry.api import CliCommand, hookimpl

            @click.command("hello")
            def hello():
                click.echo("hello")

            @hookimpl
            def claimferry_cli_commands():
                yield CliCommand(name="hello", command=hello)
        """

    @hookspec
    def claimferry_notifiers(self) -> Iterable[Notifier]:  # type: ignore[empty-body]
        """Register ways to deliver alerts (rejections, denials, logins on hold...).

        The config's ``notifiers:`` section names destinations with
        ``type: NAME``; each account's ``alerts:`` says which destination gets
        which events. After each ``fetch`` of an account, ``send(digest,
        settings)`` is called once per destination with everything new.
        Raising keeps the digest in the ledger for the next ``fetch``; it
        never stops the fetch. Built in: ``email`` and ``webhook``
        (docs/alerts.md).

        Example plugin::

            import json
            from pathlib import Path
            from claimferry.api import Notifier, NotifierError, hookimpl

            def send(digest, settings):
                # appends each digest to a file: a notifier's whole contract in miniature
                try:
                    with Path(settings["path"]).open("a", encoding="utf-8") as out:
                        out.write(json.dumps(digest.to_dict()) + "\\n")
                except OSError as exc:
                    raise NotifierError(f"cannot append to {settings['path']}: {exc.strerror}")

            @hookimpl
            def claimferry_notifiers():
                yield Notifier(name="jsonl", send=send, settings=("path",), required=("path",))
        """
