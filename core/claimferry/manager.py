"""The plugin manager: the only code that calls hooks.

Loading order: hook specs, then the entry-point group ``claimferry`` (the
built-ins are entry points of this distribution, loaded first), then
``check_pending()`` so that a misspelt hook fails loudly. Each entry point
loads inside its own try/except: one broken plugin is reported and the CLI
still works.

Environment switches:

- ``CLAIMFERRY_BLOCK_PLUGINS=a,b`` never loads the named entry points;
- ``CLAIMFERRY_LOAD_PLUGINS=a,b`` loads only the named entry points;
- ``CLAIMFERRY_TRACE_PLUGINS=1`` logs every hook call to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, Protocol, TypeVar

import pluggy

from claimferry import hookspecs
from claimferry.errors import ClaimferryError, PluginError
from claimferry.types import (
    ClaimTransport,
    Clearinghouse,
    CliCommand,
    CredentialSource,
    EnrollmentValidator,
    Notifier,
    ResponseReader,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "claimferry"
DISTRIBUTION = "claimferry"
BLOCK_ENV = "CLAIMFERRY_BLOCK_PLUGINS"
ALLOW_ENV = "CLAIMFERRY_LOAD_PLUGINS"
TRACE_ENV = "CLAIMFERRY_TRACE_PLUGINS"


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_HasName)


@dataclass(frozen=True)
class LoadFailure:
    """A plugin that could not be loaded, kept to report instead of dying."""

    name: str
    distribution: str
    error: str


@dataclass(frozen=True)
class HookFailure:
    """A plugin whose hook raised while being listed."""

    plugin: str
    hook: str
    error: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    builtin: bool


def _env_set(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginManager(pluggy.PluginManager):
    """claimferry's plugin manager with typed lookups over the hooks."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs.ClaimferrySpecs)
        self.load_failures: list[LoadFailure] = []
        self._info: dict[str, PluginInfo] = {}

    # -- loading ---------------------------------------------------------------

    def load(self, which: Literal["all", "builtin", "none"] = "all") -> PluginManager:
        """Load entry points: ``builtin`` loads only this distribution's own."""
        if which != "none":
            eps = sorted(
                entry_points(group=ENTRY_POINT_GROUP),
                key=lambda ep: (self._dist_name(ep) != DISTRIBUTION, ep.name),
            )
            blocked = _env_set(BLOCK_ENV) or set()
            allowed = _env_set(ALLOW_ENV)
            for ep in eps:
                builtin = self._dist_name(ep) == DISTRIBUTION
                if which == "builtin" and not builtin:
                    continue
                if ep.name in blocked or (allowed is not None and ep.name not in allowed):
                    log.debug("plugin %s not loaded (environment switch)", ep.name)
                    continue
                self._load_entry_point(ep, builtin)
        self.check_pending()
        return self

    def check_pending(self) -> None:
        """pluggy's check, failing as one line an operator can act on.

        pluggy's own error shows a module repr and no way out; this one names
        each plugin, its unknown hooks, and the switch that skips the plugin.
        """
        try:
            super().check_pending()
        except pluggy.PluginValidationError as exc:
            offenders = self._unknown_hooks()
            described = "; ".join(
                f"plugin {self._describe(name)} implements {', '.join(hooks)}, "
                "which is not a claimferry hook (a misspelt name?)"
                for name, hooks in offenders.items()
            )
            # keep what is blocked already, so the suggested setting can be pasted as is
            block = sorted((_env_set(BLOCK_ENV) or set()) | set(offenders))
            raise PluginError(
                f"{described}. Fix or uninstall it, or skip it with {BLOCK_ENV}={','.join(block)}"
            ) from exc

    def _unknown_hooks(self) -> dict[str, list[str]]:
        """Per plugin, the hooks it implements that no spec declares (optional ones aside)."""
        found: dict[str, list[str]] = {}
        for name, plugin in self.list_name_plugin():
            for caller in self.get_hookcallers(plugin) or []:
                if caller.has_spec():
                    continue
                impls = [i for i in caller.get_hookimpls() if i.plugin is plugin]
                if any(not i.optionalhook for i in impls):
                    found.setdefault(name or repr(plugin), []).append(caller.name)
        return {name: sorted(hooks) for name, hooks in sorted(found.items())}

    def _describe(self, name: str) -> str:
        dist = self.plugin_info(name).distribution
        return f"{name} (from {dist})" if dist not in (None, "?") else name

    @staticmethod
    def _dist_name(ep: EntryPoint) -> str:
        return ep.dist.name if ep.dist is not None else "?"

    def _load_entry_point(self, ep: EntryPoint, builtin: bool) -> None:
        if self.get_plugin(ep.name) is not None or self.is_blocked(ep.name):
            return
        dist = self._dist_name(ep)
        try:
            plugin = ep.load()
            self.register(plugin, name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not break the CLI
            message = f"{exc.__class__.__name__}: {exc}"
            self.load_failures.append(LoadFailure(ep.name, dist, message))
            log.info("plugin %s (from %s) failed to load: %s", ep.name, dist, message)
            return
        version = ep.dist.version if ep.dist is not None else None
        self._info[ep.name] = PluginInfo(ep.name, dist, version, builtin)

    def register_plugin(self, plugin: object, name: str) -> str:
        """Register a plugin object directly (tests, embedding). Fails on duplicates."""
        registered = self.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name} is blocked")
        self._info.setdefault(name, PluginInfo(name, None, None, builtin=False))
        return registered

    def plugin_info(self, name: str) -> PluginInfo:
        return self._info.get(name, PluginInfo(name, None, None, builtin=False))

    # -- hook results ----------------------------------------------------------

    def _collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Every registration from every plugin, in calling order, with its plugin's name.

        Each implementation is called on its own so that a failure names its
        plugin and a duplicate can name both owners.
        """
        out: list[tuple[str, Any]] = []
        for plugin_name, impl in self._implementations(hook_name):
            try:
                result = impl.function()
                items = list(result) if result is not None else []
            except ClaimferryError:
                raise  # already says what is wrong (a bad file keeps its exit code 2)
            except Exception as exc:
                raise PluginError(
                    f"plugin {plugin_name} failed in {hook_name}: {exc.__class__.__name__}: {exc}"
                ) from exc
            out.extend((plugin_name, item) for item in items)
        return out

    def _implementations(self, hook_name: str) -> Iterator[tuple[str, Any]]:
        """A hook's implementations in calling order, each with its plugin's name;
        traced to stderr when ``CLAIMFERRY_TRACE_PLUGINS`` is set."""
        trace = os.environ.get(TRACE_ENV, "") not in ("", "0")
        for impl in reversed(getattr(self.hook, hook_name).get_hookimpls()):
            plugin_name = self.get_name(impl.plugin) or repr(impl.plugin)
            if trace:
                print(f"claimferry: hook {hook_name} -> {plugin_name}", file=sys.stderr)
            yield plugin_name, impl

    def get_hook_results(self, hook_name: str, kind: type[N]) -> list[N]:
        """All registrations of one hook; a duplicate name is an error naming both plugins."""
        seen: dict[str, str] = {}
        results: list[N] = []
        for plugin_name, item in self._collect(hook_name):
            if not isinstance(item, kind):
                raise PluginError(
                    f"plugin {plugin_name} returned {type(item).__name__} from {hook_name}; "
                    f"expected {kind.__name__}"
                )
            if item.name in seen:
                raise PluginError(
                    f"{kind.__name__} {item.name!r} is registered by both plugin "
                    f"{seen[item.name]} and plugin {plugin_name}; block one with {BLOCK_ENV}"
                )
            seen[item.name] = plugin_name
            results.append(item)
        return results

    def credential_sources(self) -> list[CredentialSource]:
        return self.get_hook_results("claimferry_credential_sources", CredentialSource)

    def enrollment_validators(self) -> list[EnrollmentValidator]:
        return self.get_hook_results("claimferry_enrollment_validators", EnrollmentValidator)

    def transports(self) -> list[ClaimTransport]:
        return self.get_hook_results("claimferry_claim_transports", ClaimTransport)

    def clearinghouses(self) -> list[Clearinghouse]:
        return self.get_hook_results("claimferry_clearinghouses", Clearinghouse)

    def response_readers(self, clearinghouse: str | None = None) -> list[ResponseReader]:
        """Every reader, or those an account of ``clearinghouse`` may use: its own
        and the ones scoped to no clearinghouse."""
        readers = self.get_hook_results("claimferry_response_readers", ResponseReader)
        if clearinghouse is None:
            return readers
        return [r for r in readers if r.clearinghouse in (None, clearinghouse)]

    def cli_commands(self) -> list[CliCommand]:
        return self.get_hook_results("claimferry_cli_commands", CliCommand)

    def notifiers(self) -> list[Notifier]:
        return self.get_hook_results("claimferry_notifiers", Notifier)

    def get_credential_source(self, name: str) -> CredentialSource:
        return _by_name("credential source", name, self.credential_sources())

    def get_transport(self, name: str) -> ClaimTransport:
        return _by_name("transport", name, self.transports())

    def get_clearinghouse(self, name: str) -> Clearinghouse:
        return _by_name("clearinghouse", name, self.clearinghouses())

    def get_notifier(self, name: str) -> Notifier:
        return _by_name("notifier", name, self.notifiers())

    def registrations(self) -> tuple[dict[str, dict[str, list[str]]], list[HookFailure]]:
        """Per plugin, per hook, the names it registers, and the hooks that failed.

        ``claimferry plugins`` shows both: one plugin whose hook raises must not
        hide what every other plugin registers.
        """
        table: dict[str, dict[str, list[str]]] = {
            name: {} for name, _ in self.list_name_plugin() if name is not None
        }
        failures: list[HookFailure] = []
        for hook_name in _HOOKS:
            for plugin_name, impl in self._implementations(hook_name):
                try:
                    result = impl.function()
                    names = [item.name for item in (result or [])]
                except Exception as exc:  # reported, so the listing still works
                    failures.append(
                        HookFailure(plugin_name, hook_name, f"{exc.__class__.__name__}: {exc}")
                    )
                    continue
                if names:
                    table.setdefault(plugin_name, {})[hook_name] = names
        return table, failures


_HOOKS = [name for name in dir(hookspecs.ClaimferrySpecs) if name.startswith("claimferry_")]


def _by_name(kind: str, name: str, items: Iterable[N]) -> N:
    found = list(items)
    for item in found:
        if item.name == name:
            return item
    known = ", ".join(sorted(i.name for i in found)) or "none installed"
    raise PluginError(f"no {kind} named {name!r} (available: {known})")
