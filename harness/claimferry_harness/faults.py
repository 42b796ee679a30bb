"""Fault switches for the mock server, safe to flip while sessions run."""

from __future__ import annotations

import threading


class Faults:
    """What should go wrong. Each switch is read on every request, so a change
    applies at once to running sessions as well as new ones.

    - ``latency``: seconds added to every SFTP request;
    - ``drop_after_bytes``: close a connection once its client has written this
      many bytes to files (per SSH connection; ``None`` = never);
    - ``drop_after_rename``: close a connection right after a rename succeeds, before
      its answer reaches the client (the client cannot tell whether it happened);
    - ``fail_writes``: answer every file write with an SFTP failure;
    - ``refuse_logins``: refuse every login, even with good credentials.

    Changing the host key is :meth:`MockOfficeAlly.rotate_host_key`.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        drop_after_bytes: int | None = None,
        drop_after_rename: bool = False,
        fail_writes: bool = False,
        refuse_logins: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._drop_after_bytes: int | None = None
        self.latency = latency
        self.drop_after_bytes = drop_after_bytes
        self._drop_after_rename = drop_after_rename
        self._fail_writes = fail_writes
        self._refuse_logins = refuse_logins

    def __repr__(self) -> str:
        return (
            f"Faults(latency={self.latency}, drop_after_bytes={self.drop_after_bytes}, "
            f"drop_after_rename={self.drop_after_rename}, fail_writes={self.fail_writes}, "
            f"refuse_logins={self.refuse_logins})"
        )

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            self._latency = float(value)

    @property
    def drop_after_bytes(self) -> int | None:
        with self._lock:
            return self._drop_after_bytes

    @drop_after_bytes.setter
    def drop_after_bytes(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("drop_after_bytes must not be negative")
        with self._lock:
            self._drop_after_bytes = value

    @property
    def drop_after_rename(self) -> bool:
        with self._lock:
            return self._drop_after_rename

    @drop_after_rename.setter
    def drop_after_rename(self, value: bool) -> None:
        with self._lock:
            self._drop_after_rename = bool(value)

    @property
    def fail_writes(self) -> bool:
        with self._lock:
            return self._fail_writes

    @fail_writes.setter
    def fail_writes(self, value: bool) -> None:
        with self._lock:
            self._fail_writes = bool(value)

    @property
    def refuse_logins(self) -> bool:
        with self._lock:
            return self._refuse_logins

    @refuse_logins.setter
    def refuse_logins(self, value: bool) -> None:
        with self._lock:
            self._refuse_logins = bool(value)

    def clear(self) -> None:
        """Back to a healthy server."""
        self.latency = 0.0
        self.drop_after_bytes = None
        self.drop_after_rename = False
        self.fail_writes = False
        self.refuse_logins = False
