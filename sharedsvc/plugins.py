"""Plugin manager factory: built-ins first, then third-party entry points.

Every plugin, the built-in ones included, is found through the `sharedsvc`
entry-point group, so the built-ins prove the path third parties take. A
plugin that fails to import or raises while registering is recorded as a
failure (named, with the reason) and the others keep working.

Environment switches:
- ``SHAREDSVC_DISABLE_PLUGINS=1`` loads only the built-in plugins;
- ``SHAREDSVC_BLOCK_PLUGINS=name,other`` skips the named entry points.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import attrs
import pluggy

from sharedsvc import hookspecs
from sharedsvc.errors import PluginError
from sharedsvc.pricing.costmodel import CostModel
from sharedsvc.rules import Rule

GROUP = "sharedsvc"
BUILTIN_DISTRIBUTION = "sharedsvc"
DISABLE_ENV = "SHAREDSVC_DISABLE_PLUGINS"
BLOCK_ENV = "SHAREDSVC_BLOCK_PLUGINS"


@attrs.frozen(kw_only=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    builtin: bool
    cost_models: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class PluginFailure:
    name: str
    reason: str


@attrs.frozen(kw_only=True)
class Registry:
    """What the plugins registered: cost models and rules by name, and who failed."""

    plugin_manager: pluggy.PluginManager
    cost_models: dict[str, CostModel]
    rules: dict[str, Rule]
    owners: dict[tuple[str, str], str]
    """(kind, name) -> plugin name, to name a plugin in errors."""
    plugins: tuple[PluginInfo, ...]
    failures: tuple[PluginFailure, ...]
    skipped: dict[str, str] = attrs.field(factory=dict)
    """Installed plugins not loaded, by entry-point name: why (blocked, or autoload off)."""

    def not_loaded(self) -> dict[str, str]:
        """Every installed plugin that registered nothing here, and why: skipped or failed."""
        found = dict(self.skipped)
        found.update({f.name: f.reason for f in self.failures})
        return found

    def owner_of_model(self, name: str) -> str:
        return self.owners.get(("cost model", name), "?")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _blocked_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",") if n.strip()}


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"] or "?", dist.version or "?"


def _ordered_entry_points() -> list[EntryPoint]:
    eps = list(entry_points(group=GROUP))
    return sorted(eps, key=lambda ep: (_distribution(ep)[0] != BUILTIN_DISTRIBUTION, ep.name))


def build_registry(
    *, autoload: bool | None = None, blocked: Iterable[str] = (), extra: Iterable[Any] = ()
) -> Registry:
    """Make a fresh plugin manager and collect what its plugins register.

    `autoload=False` (or the environment switch) loads only built-ins; `blocked`
    names entry points to skip; `extra` are plugin objects registered last
    (handy in tests and for embedding); one that an entry point already loaded is
    registered once, under its entry-point name.
    """
    if autoload is None:
        autoload = not _env_flag(DISABLE_ENV)
    blocked = set(blocked) | _blocked_from_env()
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, dict[str, Any]] = {}
    failures: list[PluginFailure] = []
    skipped: dict[str, str] = {}

    for ep in _ordered_entry_points():
        dist, version = _distribution(ep)
        builtin = dist == BUILTIN_DISTRIBUTION
        if ep.name in blocked:
            skipped[ep.name] = f"blocked ({BLOCK_ENV} or blocked=)"
            continue
        if not builtin and not autoload:
            skipped[ep.name] = f"installed plugins are off ({DISABLE_ENV} or autoload=False)"
            continue
        if pm.has_plugin(ep.name) or ep.name in infos:
            failures.append(
                PluginFailure(name=ep.name, reason=f"duplicate plugin name from {dist}")
            )
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a third party's import can raise anything, exit too
            failures.append(PluginFailure(name=ep.name, reason=f"{type(exc).__name__}: {exc}"))
            continue
        infos[ep.name] = {"distribution": dist, "version": version, "builtin": builtin}

    for plugin in extra:
        if pm.is_registered(plugin):  # already loaded through its entry point: once is enough
            continue
        base = getattr(plugin, "__name__", type(plugin).__name__)
        name = base
        while pm.has_plugin(name) or name in infos:
            name = f"{base}-{len(infos)}"
        pm.register(plugin, name=name)
        infos[name] = {"distribution": "(registered in code)", "version": "", "builtin": False}

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"plugin {exc.plugin!r} has a hook that sharedsvc does not know: {exc}"
        ) from None

    cost_models: dict[str, CostModel] = {}
    rules: dict[str, Rule] = {}
    owners: dict[tuple[str, str], str] = {}
    registered: dict[str, dict[str, list[str]]] = {n: {"cost model": [], "rule": []} for n in infos}

    def collect(hook: pluggy.HookCaller, kind: str, store: dict[str, Any], base: type) -> None:
        for impl in hook.get_hookimpls():  # in registration order: built-ins first
            plugin_name = impl.plugin_name

            def register(obj: Any, _plugin: str = plugin_name) -> None:
                name = getattr(obj, "key" if kind == "rule" else "name", None)
                if not isinstance(obj, base) or not isinstance(name, str):
                    raise PluginError(f"registered a {type(obj).__name__}, not a {kind}")
                if name in store:
                    raise PluginError(
                        f"{kind} {name!r} is already registered by plugin {owners[(kind, name)]!r}"
                    )
                store[name] = obj
                owners[(kind, name)] = _plugin
                registered.setdefault(_plugin, {"cost model": [], "rule": []})[kind].append(name)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the plugin's own code, exit too: name it, carry on
                failures.append(
                    PluginFailure(
                        name=plugin_name, reason=f"{hook.name}: {type(exc).__name__}: {exc}"
                    )
                )

    collect(pm.hook.sharedsvc_register_cost_models, "cost model", cost_models, CostModel)
    collect(pm.hook.sharedsvc_register_rules, "rule", rules, Rule)

    plugins = tuple(
        PluginInfo(
            name=name,
            cost_models=tuple(registered.get(name, {}).get("cost model", ())),
            rules=tuple(registered.get(name, {}).get("rule", ())),
            **info,
        )
        for name, info in infos.items()
    )
    return Registry(
        plugin_manager=pm,
        cost_models=cost_models,
        rules=rules,
        owners=owners,
        plugins=plugins,
        failures=tuple(failures),
        skipped=skipped,
    )
