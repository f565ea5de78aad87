"""The plugin system: entry points, registration, failures, switches, third-party rules."""

from __future__ import annotations

import math

import pytest
from conftest import ROOT

from sharedsvc import (
    ConsortiumError,
    Constraint,
    CostModel,
    Engine,
    Field,
    PluginError,
    Problem,
    Rule,
    hookimpl,
)
from sharedsvc.model.toml_writer import dumps

SEL = ROOT / "consortia" / "south-east-london.toml"

TINY = {
    "services": {"svc": {"model": "flat"}},
    "members": {
        m: {"services": {"svc": {"cost": c}}} for m, c in (("a", 100.0), ("b", 200.0), ("c", 300.0))
    },
}


class Flat(CostModel):
    """Sharing saves a fixed fraction of the smaller members' cost."""

    name = "flat"
    member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)
    parameters = (Field(name="saving", default=0.1, minimum=0, maximum=1, source="test"),)

    def standalone_cost(self, participant, params):
        return participant.fields["cost"]

    def group_running_cost(self, participants, params):
        costs = sorted(p.fields["cost"] for p in participants)
        return costs[-1] + sum(costs[:-1]) * (1 - params["saving"])


class FlatPlugin:
    @hookimpl
    def sharedsvc_register_cost_models(self, register):
        register(Flat())


def test_builtins_load_through_entry_points():
    registry = Engine.create(autoload=False).registry
    builtins = {p.name: p for p in registry.plugins}
    assert builtins["scale"].distribution == "sharedsvc" and builtins["scale"].builtin
    assert builtins["scale"].cost_models == ("scale",)
    assert "must_share" in builtins["rules"].rules
    assert registry.owner_of_model("scale") == "scale"


def test_engines_do_not_share_plugin_managers():
    one = Engine.create(autoload=False, plugins=[FlatPlugin()])
    two = Engine.create(autoload=False)
    assert "flat" in one.registry.cost_models
    assert "flat" not in two.registry.cost_models
    assert one.registry.plugin_manager is not two.registry.plugin_manager


def test_a_plugin_registered_in_code_prices_a_service():
    engine = Engine.create(autoload=False, plugins=[FlatPlugin()])
    result = engine.optimise(engine.parse(dumps(TINY)))
    (group,) = result.services[0].groups
    assert group.members == ("a", "b", "c")
    # largest member pays full cost; the others save 10%: (100 + 200) * 0.1 = 30 a year
    assert group.annual_saving == pytest.approx(30.0)


def test_misspelt_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def sharedsvc_register_cost_model(self, register):  # missing the final s
            raise AssertionError("never called")

    with pytest.raises(PluginError, match="sharedsvc_register_cost_model"):
        Engine.create(autoload=False, plugins=[Misspelt()])


def test_a_plugin_that_raises_is_named_and_others_keep_working():
    class Broken:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            raise RuntimeError("database unreachable")

    engine = Engine.create(autoload=False, plugins=[Broken()])
    (failure,) = engine.registry.failures
    assert "database unreachable" in failure.reason
    assert "scale" in engine.registry.cost_models
    assert engine.optimise(engine.load(SEL)).status == "optimal"


def test_duplicate_model_name_is_a_failure_naming_the_first_owner():
    class Impostor:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Flat())
            register(type("Scale2", (Flat,), {"name": "scale"})())

    engine = Engine.create(autoload=False, plugins=[Impostor()])
    assert any("already registered by plugin 'scale'" in f.reason for f in engine.registry.failures)
    assert type(engine.registry.cost_models["scale"]).__name__ == "Scale"


def test_block_list_skips_a_plugin(monkeypatch):
    monkeypatch.setenv("SHAREDSVC_BLOCK_PLUGINS", "hr, fraud")
    engine = Engine.create(autoload=False)
    assert "hr" not in engine.registry.cost_models
    assert "fraud" not in engine.registry.cost_models
    assert "scale" in engine.registry.cost_models
    with pytest.raises(
        ConsortiumError,
        match=r"services\.hr\.model: cost model 'hr' is not available: plugin 'hr' was not "
        r"loaded: blocked \(SHAREDSVC_BLOCK_PLUGINS",
    ):
        engine.load(SEL)


@pytest.mark.parametrize("bad", [math.nan, -5.0, math.inf])
def test_cost_model_returning_nonsense_is_named(bad):
    class Nonsense(Flat):
        name = "flat"

        def group_running_cost(self, participants, params):
            return bad

    class NonsensePlugin:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Nonsense())

    engine = Engine.create(autoload=False, plugins=[NonsensePlugin()])
    with pytest.raises(
        PluginError, match=r"cost model 'flat' \(plugin '.*'\) returned a running cost"
    ):
        engine.optimise(engine.parse(dumps(TINY)))


def test_cost_model_that_raises_is_named():
    class Raising(Flat):
        def group_running_cost(self, participants, params):
            raise ZeroDivisionError("oops")

    class RaisingPlugin:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Raising())

    engine = Engine.create(autoload=False, plugins=[RaisingPlugin()])
    with pytest.raises(PluginError, match=r"cost model 'flat'.*raised ZeroDivisionError: oops"):
        engine.optimise(engine.parse(dumps(TINY)))


class MinimumSaving(Rule):
    """A third-party rule: only groups that save at least this much a year."""

    key = "min_annual_saving"
    expects = "a number of pounds"

    def parse(self, value, context):
        if not isinstance(value, int | float):
            return [], [Problem(context.path, f"expected {self.expects}")]
        return [_AtLeast(value)], []


class _AtLeast(Constraint):
    def __init__(self, floor):
        self.floor = floor
        self.label = f"min_annual_saving requires £{floor:,.0f} a year"

    def allows_figures(self, candidate):
        return candidate.size < 2 or candidate.annual_saving >= self.floor


class RulePlugin:
    @hookimpl
    def sharedsvc_register_rules(self, register):
        register(MinimumSaving())


def test_a_third_party_rule_adds_a_constraint_key():
    engine = Engine.create(autoload=False, plugins=[FlatPlugin(), RulePlugin()])
    free = engine.optimise(engine.parse(dumps(TINY)))
    assert free.totals["annual_saving"] == pytest.approx(30.0)
    data = {**TINY, "constraints": {"min_annual_saving": 25}}
    # a+b+c saves 30; only pairs with c qualify? a+c saves 10, b+c 20: none reaches 25 but all three
    assert engine.optimise(engine.parse(dumps(data))).totals["annual_saving"] == pytest.approx(30.0)
    data = {**TINY, "constraints": {"min_annual_saving": 31}}
    assert engine.optimise(engine.parse(dumps(data))).services[0].groups == ()
    with pytest.raises(ConsortiumError, match=r"constraints\.min_annual_saving"):
        engine.parse(dumps({**TINY, "constraints": {"min_annual_saving": "lots"}}))
    assert "min_annual_saving" not in Engine.create(autoload=False).registry.rules


def test_a_rule_that_raises_while_parsing_is_named():
    class Crashing(MinimumSaving):
        def parse(self, value, context):
            raise KeyError("boom")

    class CrashingPlugin:
        @hookimpl
        def sharedsvc_register_rules(self, register):
            register(Crashing())

    engine = Engine.create(autoload=False, plugins=[FlatPlugin(), CrashingPlugin()])
    with pytest.raises(
        ConsortiumError, match=r"constraints.min_annual_saving: rule plugin .* raised"
    ):
        engine.parse(dumps({**TINY, "constraints": {"min_annual_saving": 1}}))


def test_a_consortium_passed_to_an_engine_without_its_model_is_a_plugin_error():
    """Loaded by an engine with a plugin registered in code, optimised by one without it."""
    from sharedsvc import optimise

    with_flat = Engine.create(autoload=False, plugins=[FlatPlugin()])
    consortium = with_flat.parse(dumps(TINY))
    assert with_flat.optimise(consortium).solved
    with pytest.raises(PluginError, match=r"cost model 'flat' is not registered with this engine"):
        optimise(consortium, engine=Engine.create(autoload=False))
    with pytest.raises(PluginError, match="'flat'"):
        optimise(consortium)  # the module-level function, with the installed plugins


def test_a_module_also_installed_through_its_entry_point_registers_once():
    import sharedsvc_plugins.scale

    engine = Engine.create(autoload=False, plugins=[sharedsvc_plugins.scale])
    assert [p.name for p in engine.registry.plugins].count("scale") == 1
    assert engine.registry.owner_of_model("scale") == "scale"
    assert not engine.registry.failures
    assert engine.optimise(engine.load(SEL)).status == "optimal"
