"""The jail holds for every SFTP operation, including those that do not follow symlinks.

A real paramiko client on loopback tries each operation through a symlinked
folder that leads out of the account (to a folder outside the server's root,
and to another account), and through ``..``. Nothing outside the account may
change or be seen. The same operations through an ordinary folder of the
account succeed, so a refusal here is the jail's doing, not a missing feature.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from claimferry_harness import HarnessUser, MockOfficeAlly
from harness.harness_support import Session, TestClaim, build_837

PASSWORD = "s3cret-test-only"
NEIGHBOUR_PASSWORD = "neighbour-test-only"

Operation = Callable[[paramiko.SFTPClient, str], object]


def _write(sftp: paramiko.SFTPClient, path: str) -> None:
    with sftp.open(path, "wb") as stream:
        stream.write(b"planted")


# Each operation gets a folder (``via``) that holds ``victim.txt``, an empty
# folder ``empty`` and a symlink ``link``; it must not reach anything outside
# the account when ``via`` leads outside.
OPERATIONS: dict[str, Operation] = {
    "remove": lambda s, via: s.remove(f"{via}/victim.txt"),
    "rename-out": lambda s, via: s.rename(f"{via}/victim.txt", "inbound/taken.txt"),
    "rename-in": lambda s, via: s.rename("inbound/mine.txt", f"{via}/planted.txt"),
    "posix-rename-out": lambda s, via: s.posix_rename(f"{via}/victim.txt", "inbound/taken.txt"),
    "posix-rename-in": lambda s, via: s.posix_rename("inbound/mine.txt", f"{via}/victim.txt"),
    "mkdir": lambda s, via: s.mkdir(f"{via}/made"),
    "rmdir": lambda s, via: s.rmdir(f"{via}/empty"),
    "lstat": lambda s, via: s.lstat(f"{via}/victim.txt"),
    "lstat-link": lambda s, via: s.lstat(f"{via}/link"),
    "stat": lambda s, via: s.stat(f"{via}/victim.txt"),
    "listdir": lambda s, via: s.listdir(via),
    "read": lambda s, via: s.open(f"{via}/victim.txt", "rb").read(),
    "write": lambda s, via: _write(s, f"{via}/planted.txt"),
    "overwrite": lambda s, via: _write(s, f"{via}/victim.txt"),
    "setstat": lambda s, via: s.utime(f"{via}/victim.txt", (1, 1)),
    "truncate": lambda s, via: s.truncate(f"{via}/victim.txt", 0),
    "readlink": lambda s, via: s.readlink(f"{via}/link"),
    "symlink": lambda s, via: s.symlink("victim.txt", f"{via}/made-link"),
}

# What each operation does to an ordinary folder of the account (the control).
ALLOWED_INSIDE = set(OPERATIONS) - {"readlink", "symlink"}


@dataclass
class World:
    server: MockOfficeAlly
    sftp: paramiko.SFTPClient
    outside: Path
    neighbour: Path
    own: Path

    def snapshot(self) -> dict[str, tuple[str, str]]:
        """Everything outside the account: what a client must not change."""
        found: dict[str, tuple[str, str]] = {}
        for base in (self.outside, self.server.root):
            for folder, dirs, files in os.walk(base):
                here = Path(folder)
                if (
                    here == self.server.user_dir("sunrise")
                    or self.server.user_dir("sunrise") in here.parents
                ):
                    dirs[:] = []
                    continue
                for name in dirs + files:
                    path = here / name
                    if path.is_symlink():
                        found[str(path)] = ("link", os.readlink(path))
                    elif path.is_dir():
                        found[str(path)] = ("dir", "")
                    else:
                        found[str(path)] = ("file", path.read_bytes().hex())
        return found


def _populate(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "victim.txt").write_bytes(b"not yours")
    (folder / "empty").mkdir()
    (folder / "link").symlink_to("victim.txt")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    root = tmp_path / "root"
    users = {
        "sunrise": HarnessUser(password=PASSWORD),
        "sunrise2": HarnessUser(password=NEIGHBOUR_PASSWORD),
    }
    with MockOfficeAlly(root, users) as server:
        outside = tmp_path / "outside"
        _populate(outside)
        neighbour = server.inbound_dir("sunrise2")
        _populate(neighbour)
        home = server.user_dir("sunrise")
        own = home / "inbound" / "own"
        _populate(own)
        (home / "inbound" / "mine.txt").write_bytes(b"mine")
        # Symlinked folders inside the account that lead out of it: as an
        # operator's mistake or a restored backup could leave them.
        (home / "escape").symlink_to(outside)
        (home / "inbound" / "escape").symlink_to(outside)
        (home / "inbound" / "neighbour").symlink_to(os.path.relpath(neighbour, home / "inbound"))
        session = Session(server, "sunrise", password=PASSWORD)
        try:
            yield World(server, session.sftp, outside, neighbour, own)
        finally:
            session.close()


SYMLINKED = ["escape", "inbound/escape", "inbound/neighbour", "/inbound/./escape"]
DOT_DOT = [
    "../outside",
    "../../../outside",
    "inbound/../../outside",
    "../sunrise2/inbound",
    "/../../accounts/sunrise2/inbound",
    "inbound/own/../../../sunrise2/inbound",
]


@pytest.mark.parametrize("via", SYMLINKED)
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_symlinked_folder_leading_out_is_refused_for_every_operation(
    world: World, name: str, via: str
) -> None:
    before = world.snapshot()
    with pytest.raises(OSError) as caught:
        OPERATIONS[name](world.sftp, via)
    if name not in ("readlink", "symlink"):  # never offered, whatever the path
        assert isinstance(caught.value, PermissionError), caught.value
    assert world.snapshot() == before
    assert (world.server.user_dir("sunrise") / "inbound" / "mine.txt").read_bytes() == b"mine"
    assert not (world.server.user_dir("sunrise") / "inbound" / "taken.txt").exists()


@pytest.mark.parametrize("via", DOT_DOT)
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_dot_dot_never_leaves_the_account_for_any_operation(
    world: World, name: str, via: str
) -> None:
    """``..`` stops at the account's ``/``: these paths name folders the account does not have."""
    before = world.snapshot()
    with pytest.raises(OSError):
        OPERATIONS[name](world.sftp, via)
    assert world.snapshot() == before
    home = world.server.user_dir("sunrise")
    assert sorted(p.name for p in home.iterdir()) == ["escape", "inbound", "outbound"]


@pytest.mark.parametrize("name", sorted(ALLOWED_INSIDE))
def test_the_same_operations_work_in_an_ordinary_folder_of_the_account(
    world: World, name: str
) -> None:
    before = world.snapshot()
    OPERATIONS[name](world.sftp, "inbound/own")
    assert world.snapshot() == before


def test_symlinks_inside_the_account_may_be_moved_and_removed_not_followed_out(
    world: World,
) -> None:
    """A link's own entry is the account's: lstat, rename and remove act on the link only."""
    home = world.server.user_dir("sunrise")
    before = world.snapshot()
    sftp = world.sftp
    assert sftp.lstat("inbound/escape").st_mode is not None
    sftp.rename("inbound/escape", "inbound/moved")
    assert (home / "inbound" / "moved").is_symlink()
    with pytest.raises(PermissionError):
        sftp.listdir("inbound/moved")
    sftp.remove("inbound/moved")
    assert not (home / "inbound" / "moved").exists()
    with pytest.raises(OSError):
        sftp.rmdir("inbound/neighbour")  # a link, not a folder: the neighbour's folder stays
    assert world.snapshot() == before


def test_a_symlink_swapped_in_after_login_is_refused_too(world: World) -> None:
    """The jail resolves on every request, not once per session."""
    inbound = world.server.user_dir("sunrise") / "inbound"
    sftp = world.sftp
    sftp.mkdir("inbound/later")
    sftp.putfo(io.BytesIO(b"x"), "inbound/later/x.txt")
    sftp.remove("inbound/later/x.txt")
    sftp.rmdir("inbound/later")
    (inbound / "later").symlink_to(world.outside)
    before = world.snapshot()
    for attempt in (
        lambda: sftp.remove("inbound/later/victim.txt"),
        lambda: sftp.rmdir("inbound/later/empty"),
        lambda: sftp.mkdir("inbound/later/made"),
        lambda: sftp.lstat("inbound/later/victim.txt"),
        lambda: sftp.rename("inbound/mine.txt", "inbound/later/mine.txt"),
    ):
        with pytest.raises(PermissionError):
            attempt()
    assert world.snapshot() == before


def test_a_symlink_renamed_to_a_claim_name_is_not_processed(world: World) -> None:
    """Processing reads the file: a link to a file outside must never be handed to it."""
    inbound = world.server.user_dir("sunrise") / "inbound"
    (world.outside / "claims_837P.txt").write_bytes(build_837([TestClaim("OUTSIDE-1")]))
    (inbound / "planted").symlink_to(world.outside / "claims_837P.txt")
    world.sftp.rename("inbound/planted", "inbound/taken_837P.txt")
    world.sftp.posix_rename("inbound/taken_837P.txt", "inbound/again_837P.txt")
    assert (inbound / "again_837P.txt").is_symlink()
    time.sleep(0.2)  # processing runs on a worker thread: give it the chance to go wrong
    assert world.server.wait_idle(5)
    assert list(world.server.outbound_dir("sunrise").iterdir()) == []
