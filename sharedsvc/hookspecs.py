"""Every hook a sharedsvc plugin can implement.

Hooks take a `register` callback rather than returning values (as llm does), so
the engine keeps control of names and can say which plugin registered what.
Hooks only ever gain arguments; an implementation may accept any subset of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sharedsvc.pricing.costmodel import CostModel
    from sharedsvc.rules import Rule

hookspec = pluggy.HookspecMarker("sharedsvc")
hookimpl = pluggy.HookimplMarker("sharedsvc")


@hookspec
def sharedsvc_register_cost_models(register: Callable[[CostModel], None]) -> None:
    """Register cost models: call ``register(model)`` once for each.

    A service's ``model = "name"`` picks the model whose ``name`` matches.
    Arrived in 0.1.0.
    """


@hookspec
def sharedsvc_register_rules(register: Callable[[Rule], None]) -> None:
    """Register rules: call ``register(rule)`` once for each.

    A rule owns one key of the ``[constraints]`` table (its ``key``), parses its
    value and turns it into constraints on candidate groups and on the model.
    Arrived in 0.1.0.
    """
