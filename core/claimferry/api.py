"""What plugins may import. Everything else in claimferry is private.

Names are imported on first use (PEP 562): a plugin's registration module that
takes ``hookimpl`` from here must not load the claim model, the ledger and the
X12 readers into every ``claimferry --help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claimferry.lazy import exports

if TYPE_CHECKING:
    from claimferry.claims import (
        Address,
        BillingProvider,
        Claim,
        ClaimsFile,
        Patient,
        Payer,
        Provider,
        ServiceFacility,
        ServiceLine,
        Subscriber,
    )
    from claimferry.cli.app import (
        App,
        ClaimferryGroup,
        LazyCommand,
        emit_json,
        json_option,
        pass_app,
    )
    from claimferry.config import Account, Contact, CredentialSettings, SftpSettings
    from claimferry.credentials import Credentials, SecretStr
    from claimferry.database import DatabaseError, migrate_schema, open_database, write_transaction
    from claimferry.enrollment import (
        Enrollment,
        EnrollmentStatus,
        EnrollmentTransaction,
        read_enrollments,
    )
    from claimferry.errors import (
        AuthenticationError,
        ClaimferryError,
        CredentialError,
        HostKeyError,
        InputError,
        PluginError,
        Problem,
        TransportError,
    )
    from claimferry.findings import Finding, Severity
    from claimferry.hookspecs import hookimpl
    from claimferry.manager import PluginManager
    from claimferry.npi import npi_problem
    from claimferry.types import (
        BatchUpdate,
        ClaimTransport,
        ClaimUpdate,
        Clearinghouse,
        CliCommand,
        CredentialSource,
        DeliveryState,
        EnrollmentValidator,
        FileNaming,
        FileResponseDocument,
        HostKey,
        PayerIdCheck,
        Receiver,
        RemoteFile,
        ResponseDocument,
        ResponseReader,
        TransportSession,
        UploadReceipt,
        ValidationContext,
    )
    from claimferry.validation import problems_from_validation_error
    from claimferry.x12.writer837 import unfit_identifier

_HOME = {
    "Account": "claimferry.config",
    "Address": "claimferry.claims",
    "App": "claimferry.cli.app",
    "AuthenticationError": "claimferry.errors",
    "BatchUpdate": "claimferry.types",
    "BillingProvider": "claimferry.claims",
    "Claim": "claimferry.claims",
    "ClaimTransport": "claimferry.types",
    "ClaimUpdate": "claimferry.types",
    "ClaimferryError": "claimferry.errors",
    "ClaimferryGroup": "claimferry.cli.app",
    "ClaimsFile": "claimferry.claims",
    "Clearinghouse": "claimferry.types",
    "CliCommand": "claimferry.types",
    "Contact": "claimferry.config",
    "CredentialError": "claimferry.errors",
    "CredentialSettings": "claimferry.config",
    "CredentialSource": "claimferry.types",
    "Credentials": "claimferry.credentials",
    "DatabaseError": "claimferry.database",
    "DeliveryState": "claimferry.types",
    "Enrollment": "claimferry.enrollment",
    "EnrollmentStatus": "claimferry.enrollment",
    "EnrollmentTransaction": "claimferry.enrollment",
    "EnrollmentValidator": "claimferry.types",
    "FileNaming": "claimferry.types",
    "FileResponseDocument": "claimferry.types",
    "Finding": "claimferry.findings",
    "HostKey": "claimferry.types",
    "HostKeyError": "claimferry.errors",
    "InputError": "claimferry.errors",
    "LazyCommand": "claimferry.cli.app",
    "Patient": "claimferry.claims",
    "Payer": "claimferry.claims",
    "PayerIdCheck": "claimferry.types",
    "PluginError": "claimferry.errors",
    "PluginManager": "claimferry.manager",
    "Problem": "claimferry.errors",
    "Provider": "claimferry.claims",
    "Receiver": "claimferry.types",
    "RemoteFile": "claimferry.types",
    "ResponseDocument": "claimferry.types",
    "ResponseReader": "claimferry.types",
    "SecretStr": "claimferry.credentials",
    "ServiceFacility": "claimferry.claims",
    "ServiceLine": "claimferry.claims",
    "Severity": "claimferry.findings",
    "SftpSettings": "claimferry.config",
    "Subscriber": "claimferry.claims",
    "TransportError": "claimferry.errors",
    "TransportSession": "claimferry.types",
    "UploadReceipt": "claimferry.types",
    "ValidationContext": "claimferry.types",
    "emit_json": "claimferry.cli.app",
    "hookimpl": "claimferry.hookspecs",
    "json_option": "claimferry.cli.app",
    "migrate_schema": "claimferry.database",
    "npi_problem": "claimferry.npi",
    "open_database": "claimferry.database",
    "pass_app": "claimferry.cli.app",
    "problems_from_validation_error": "claimferry.validation",
    "read_enrollments": "claimferry.enrollment",
    "unfit_identifier": "claimferry.x12.writer837",
    "write_transaction": "claimferry.database",
}
"""Where each public name lives."""


__getattr__ = exports(__name__, _HOME)

__all__ = [
    "Account",
    "Address",
    "App",
    "AuthenticationError",
    "BatchUpdate",
    "BillingProvider",
    "Claim",
    "ClaimTransport",
    "ClaimUpdate",
    "ClaimferryError",
    "ClaimferryGroup",
    "ClaimsFile",
    "Clearinghouse",
    "CliCommand",
    "Contact",
    "CredentialError",
    "CredentialSettings",
    "CredentialSource",
    "Credentials",
    "DatabaseError",
    "DeliveryState",
    "Enrollment",
    "EnrollmentStatus",
    "EnrollmentTransaction",
    "EnrollmentValidator",
    "FileNaming",
    "FileResponseDocument",
    "Finding",
    "HostKey",
    "HostKeyError",
    "InputError",
    "LazyCommand",
    "Patient",
    "Payer",
    "PayerIdCheck",
    "PluginError",
    "PluginManager",
    "Problem",
    "Provider",
    "Receiver",
    "RemoteFile",
    "ResponseDocument",
    "ResponseReader",
    "SecretStr",
    "ServiceFacility",
    "ServiceLine",
    "Severity",
    "SftpSettings",
    "Subscriber",
    "TransportError",
    "TransportSession",
    "UploadReceipt",
    "ValidationContext",
    "emit_json",
    "hookimpl",
    "json_option",
    "migrate_schema",
    "npi_problem",
    "open_database",
    "pass_app",
    "problems_from_validation_error",
    "read_enrollments",
    "unfit_identifier",
    "write_transaction",
]
