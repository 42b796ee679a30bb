"""``claimferry harness serve`` in a child process, as an operator runs it.

The child's stdout banner is read for the address; its stderr is read line by
line on a thread so a test can wait for a log line with a timeout; its CPU
time and open descriptors come from /proc, and its descriptor limit can be
lowered while it runs (``prlimit``), to starve it as a busy host would.
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import paramiko


class Lines:
    """A text stream read on a thread, so that a test can wait for a line with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """The first line holding ``text``; AssertionError (with what was seen) on timeout."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {timeout:g}s; saw: {self.seen}") from None
            if line is None:
                raise AssertionError(f"the stream ended without {text!r}; saw: {self.seen}")
            self.seen.append(line)
        return next(line for line in self.seen if text in line)

    def rest(self, timeout: float = 10.0) -> str:
        """Everything, once the stream has ended."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream did not end"
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)


class ServeProcess:
    """``python -m claimferry harness serve --root ROOT --users USERS --port 0 [options]``."""

    def __init__(self, root: Path, users_file: Path, *options: str) -> None:
        command = ["harness", "serve", "--root", str(root), "--users", str(users_file)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "claimferry", *command, "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.stderr = Lines(self.process.stderr)
        try:
            self.banner = self._read_banner(self.process.stdout)
        except BaseException:
            self.close()
            raise
        self.host = self.banner["host"]
        self.port = int(self.banner["port"])

    def _read_banner(self, stdout: IO[str]) -> dict[str, str]:
        info: dict[str, str] = {}
        while len(info) < 4:
            line = stdout.readline()
            if not line:
                raise AssertionError(f"serve exited early: {self.stderr.rest()}")
            key, _, value = line.rstrip("\n").partition(": ")
            info[key] = value
        return info

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User plus system CPU time the child has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def limit_descriptors(self, soft: int) -> None:
        """Lower the child's RLIMIT_NOFILE soft limit while it runs."""
        _, hard = resource.prlimit(self.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (soft, hard))

    def login(self, username: str, password: str, timeout: float = 10.0) -> paramiko.Transport:
        """A logged-in client transport that checked the host key from the banner."""
        transport = paramiko.Transport((self.host, self.port))
        transport.banner_timeout = timeout
        try:
            transport.start_client(timeout=timeout)
            key = transport.get_remote_server_key()
            assert f"{key.get_name()} {key.get_base64()}" == self.banner["host key"]
            transport.auth_password(username, password)
        except BaseException:
            transport.close()
            raise
        return transport

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> str:
        """Signal the child, wait for it to exit 0, and return all it wrote to stderr."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        text = self.stderr.rest()
        assert code == 0, f"serve exited {code}: {text}"
        return text

    def close(self) -> None:
        """Kill the child if it still runs (a failed test's clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        with contextlib.suppress(AssertionError):
            self.stderr.rest()  # its reader has seen the end before the stream is closed
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
