"""Read a consortium file into a validated `Consortium`, reporting every problem at once.

Each problem names the key path and what was expected; `ConsortiumError` carries
them all with the file name. A consortium file is data only: nothing in it is
evaluated or imported, and the file is opened read-only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from sharedsvc.appraisal import allocation, distributions
from sharedsvc.appraisal.cashflows import COUNT_NON_CASHABLE, GREEN_BOOK, RAMP_UP_PRESETS
from sharedsvc.appraisal.distributions import Distribution
from sharedsvc.constants import MEMBER_KINDS, AllocationRule, Objective
from sharedsvc.errors import ConsortiumError, InputError, Problem
from sharedsvc.model import scenarios, validate
from sharedsvc.model.consortium import (
    Consortium,
    Location,
    Member,
    Participant,
    Participation,
    Service,
    UncertainInput,
)
from sharedsvc.model.fields import ID_PATTERN, Field, show_value
from sharedsvc.model.problems import Collector
from sharedsvc.rules import ParseContext
from sharedsvc.settings import Settings
from sharedsvc.wording import unknown_name

if TYPE_CHECKING:
    from sharedsvc.plugins import Registry

TOP_LEVEL = ("consortium", "members", "services", "constraints")
CONSORTIUM_KEYS = (
    "name",
    "horizon_years",
    "discount_rate",
    "objective",
    "ramp_up",
    "one_off_profile",
    "double_running",
    "exit_cost",
    "optimism_bias",
    "count_non_cashable",
)
MEMBER_KEYS = ("name", "kind", "population", "location", "neighbours", "services")
MAX_FILE_BYTES = 20_000_000
"""A consortium of every English and Welsh council with eight services is about 1 MB;
reading 20 MB of TOML takes a few seconds, 50 MB took a minute and 3 GB."""
MAX_MEMBERS = 10_000
"""Members in one file, checked before any is validated (860,000 took 60 s and 3 GB)."""


def read_consortium(
    path: str | Path,
    registry: Registry,
    *,
    settings: Settings | None = None,
    scenario: Sequence[str] = (),
) -> Consortium:
    """Load and validate a consortium file."""
    text = read_text(path, "a consortium TOML file")
    return parse_consortium(
        text, source=str(path), registry=registry, settings=settings, scenario=scenario
    )


def read_text(
    path: str | Path,
    expected: str,
    *,
    error: type[InputError] = ConsortiumError,
    max_bytes: int = MAX_FILE_BYTES,
) -> str:
    """A whole input file as UTF-8 text, opened read-only; `error` (naming the file) when
    it is missing, not a file, unreadable, larger than `max_bytes` or not UTF-8.
    `expected` says what it should be ("a consortium TOML file")."""
    source = str(path)
    file = Path(path)
    if not file.exists():
        raise error(source, [Problem("", "no such file")])
    if not file.is_file():
        raise error(
            source,
            [Problem("", f"expected {expected}, got a directory or special file")],
        )
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise error(source, [Problem("", f"cannot read the file: {exc.strerror}")]) from None
    if len(data) > max_bytes:
        raise error(
            source,
            [Problem("", f"the file is {len(data):,} bytes; expected at most {max_bytes:,}")],
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            source, [Problem("", f"expected UTF-8 text; byte {exc.start} is not valid UTF-8")]
        ) from None


def parse_toml(
    text: str, source: str, *, error: type[InputError] = ConsortiumError
) -> dict[str, Any]:
    """TOML text as a dict (a leading byte-order mark, as Excel and Notepad write,
    ignored); `error` naming `source` when it is not TOML."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise error(source, [Problem("", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # arrays or inline tables nested hundreds deep
        raise error(
            source, [Problem("", "cannot be read: its values are nested too deeply")]
        ) from None


BRITISH_ISLES = ((49.0, 61.5), (-11.0, 2.5))
"""Latitudes and longitudes around Great Britain, Ireland and the Channel Islands: a
location outside whose swap is inside has its lat and lon the wrong way round."""


def _in_british_isles(lat: float, lon: float) -> bool:
    (south, north), (west, east) = BRITISH_ISLES
    return south <= lat <= north and west <= lon <= east


def parse_consortium(
    text: str,
    *,
    source: str = "<string>",
    registry: Registry,
    settings: Settings | None = None,
    scenario: Sequence[str] = (),
    change: Mapping[str, Any] | None = None,
) -> Consortium:
    """Validate consortium TOML given as text, with the named `scenario`s applied, then
    `change`: a scenario's body given in code (`sharedsvc explain` relaxes constraints
    with it)."""
    text = text.removeprefix("\ufeff")  # the byte-order mark Excel and Notepad write
    raw = parse_toml(text, source)
    settings = Settings() if settings is None else settings
    raw, defined = scenarios.split(raw, source)
    names = tuple(n for n in scenario if n != scenarios.BASE)
    if names:
        raw = scenarios.apply(raw, defined, names, source)
        suffix = f" [scenario {' + '.join(names)}]"
        source = source if source.endswith(suffix) else source + suffix
    if change:
        raw = scenarios.apply(raw, {"(change)": dict(change)}, ["(change)"], source)
    members = raw.get("members")
    if isinstance(members, dict) and len(members) > MAX_MEMBERS:
        raise ConsortiumError(
            source,
            [
                Problem(
                    "members",
                    f"{len(members):,} members; expected at most {MAX_MEMBERS:,} (every council, "
                    "NHS trust, police and fire service of England and Wales is about 700): "
                    "split the consortium",
                )
            ],
        )
    try:
        consortium = _Loader(source, registry, settings.max_shapley_size).load(raw)
    except RecursionError:
        raise ConsortiumError(
            source, [Problem("", "cannot be checked: its values are nested too deeply")]
        ) from None
    described = {n: scenarios.description(defined, n) for n in defined}
    return attrs.evolve(consortium, scenario=names, scenarios=described, text=text)


def _numbers(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values if isinstance(v, int | float))


class _Loader(Collector):
    def __init__(self, source: str, registry: Registry, max_shapley_size: int):
        super().__init__()
        self.source = source
        self.registry = registry
        self.max_shapley_size = max_shapley_size
        self.uncertain: list[tuple[str, str, Distribution]] = []

    def load(self, raw: dict) -> Consortium:
        self.unknown_keys(raw, TOP_LEVEL, "")
        head = self.table(raw, "consortium", "consortium")
        self.unknown_keys(head, CONSORTIUM_KEYS, "consortium")
        settings = self.settings(head)
        services = self.services(self.table(raw, "services", "services", required=True))
        members, participations = self.members(
            self.table(raw, "members", "members", required=True), services
        )
        taking_part = {p.service for p in participations}
        for service in services.values():
            self.parameter_checks(
                service, [p.member.id for p in participations if p.service == service.id]
            )
        for service in services.values():
            if service.id not in taking_part:
                self.problem(
                    f"services.{service.id}",
                    f"no member takes part; expected a members.<id>.services.{service.id} table",
                )
        constraint_table = self.table(raw, "constraints", "constraints")
        # Rules check their values against what did parse, so that one run
        # reports the problems in [constraints] along with all the others.
        consortium = Consortium(
            source=self.source,
            members=tuple(members),
            services=tuple(services.values()),
            participations=tuple(participations),
            allocation=constraint_table.get("allocation", AllocationRule.PROPORTIONAL),
            settings=constraint_table,
            **settings,
        )
        constraints = self.constraints(constraint_table, consortium)
        if self.problems:
            raise ConsortiumError(self.source, self.problems)
        consortium = attrs.evolve(
            consortium, constraints=tuple(constraints), uncertain=self.uncertain_inputs()
        )
        self.allocation_sizes(consortium)
        if self.problems:
            raise ConsortiumError(self.source, self.problems)
        return consortium

    def uncertain_inputs(self) -> tuple[UncertainInput, ...]:
        found = []
        for path, name, distribution in self.uncertain:
            parts = path.split(".")
            if parts[0] == "services":  # services.<id>: a model parameter
                found.append(
                    UncertainInput(
                        service=parts[1], member=None, name=name, distribution=distribution
                    )
                )
            else:  # members.<id>.services.<id>: a member's field
                found.append(
                    UncertainInput(
                        service=parts[3], member=parts[1], name=name, distribution=distribution
                    )
                )
        return tuple(found)

    def allocation_sizes(self, consortium: Consortium) -> None:
        """Refuse now an allocation rule that cannot share out the largest allowed group."""
        largest = {s.id: validate.largest_group(consortium, s.id) for s in consortium.services}
        self.problems += allocation.size_problems(
            consortium.allocation, largest, self.max_shapley_size
        )

    def settings(self, head: dict) -> dict[str, Any]:
        name = head.get("name", Path(self.source).stem)
        horizon = head.get("horizon_years", 5)
        rate = head.get("discount_rate", 0.035)
        objective = head.get("objective", "npv")
        years = horizon if validate.horizon_problem(horizon) is None else validate.MAX_HORIZON
        ramp_up = head.get("ramp_up", [])
        if isinstance(ramp_up, str) and ramp_up in RAMP_UP_PRESETS:
            ramp_up = list(RAMP_UP_PRESETS[ramp_up])[:years]  # a short horizon: its years
        elif isinstance(ramp_up, str):
            self.problem(
                "consortium.ramp_up",
                f"expected a list of numbers or a preset ({', '.join(RAMP_UP_PRESETS)}), "
                f"got {ramp_up!r}",
            )
            ramp_up = []
        one_off = head.get("one_off_profile", [1.0])
        double = head.get("double_running", [])
        exit_cost = head.get("exit_cost", 0.0)
        count = head.get("count_non_cashable", COUNT_NON_CASHABLE)
        if count is True:  # the issue's `true`: count it all; `false`: none of it
            count = 1.0
        elif count is False:
            count = 0.0
        for key, problem in (
            ("name", validate.name_problem(name)),
            ("horizon_years", validate.horizon_problem(horizon)),
            ("discount_rate", validate.discount_rate_problem(rate)),
            ("objective", validate.choice_problem(objective, Objective)),
            ("ramp_up", validate.yearly_shares_problem(ramp_up, years)),
            ("one_off_profile", validate.one_off_problem(one_off, years)),
            ("double_running", validate.yearly_shares_problem(double, years)),
            ("exit_cost", validate.exit_cost_problem(exit_cost)),
            ("count_non_cashable", validate.share_problem(count)),
        ):
            if problem:
                self.problem(f"consortium.{key}", problem)
        bias, found = validate.optimism_bias(head.get("optimism_bias", {}))
        for relative, message in found:
            self.problem(f"consortium.optimism_bias{relative}", message)
        return {
            "optimism_bias": bias,
            "name": name,
            "horizon_years": horizon,
            "discount_rate": rate
            if rate == GREEN_BOOK
            else (float(rate) if isinstance(rate, int | float) else 0.0),
            "objective": objective,
            "ramp_up": _numbers(ramp_up) if isinstance(ramp_up, list) else (),
            "one_off_profile": _numbers(one_off) if isinstance(one_off, list) else (1.0,),
            "double_running": _numbers(double) if isinstance(double, list) else (),
            "exit_cost": float(exit_cost) if isinstance(exit_cost, int | float) else 0.0,
            "count_non_cashable": float(count)
            if isinstance(count, int | float)
            else COUNT_NON_CASHABLE,
        }

    def check_id(self, key: str, path: str, what: str) -> bool:
        if not ID_PATTERN.fullmatch(key):
            self.problem(
                path,
                f"{what} id {key!r}: expected lowercase letters, digits, '-' and '_' "
                f"(starting with a letter or digit)",
            )
            return False
        return True

    def fields(
        self, values: dict, declared: tuple[Field, ...], path: str, skip=()
    ) -> dict[str, Any]:
        known = {f.name: f for f in declared}
        result: dict[str, Any] = {}
        for key, value in values.items():
            if key in skip:
                continue
            if key not in known:
                self.problem(f"{path}.{key}", unknown_name("key", key, known))
                continue
            field = known[key]
            if isinstance(value, dict) and field.type in ("number", "integer"):
                distribution, found = distributions.parse(value, field.minimum, field.maximum)
                for relative, message in found:
                    self.problem(f"{path}.{key}{relative}", message)
                if distribution is None:
                    continue
                converted, error = field.convert(distribution.central)
                if error:
                    self.problem(f"{path}.{key}", f"its central value: {error}")
                    continue
                result[key] = converted
                self.uncertain.append((path, key, distribution))
                continue
            converted, error = field.convert(value)
            if error:
                self.problem(f"{path}.{key}", error)
            else:
                result[key] = converted
        for field in declared:
            if field.name not in values:
                if field.required:
                    self.problem(f"{path}.{field.name}", f"missing; expected {field.expectation()}")
                else:
                    result[field.name] = field.default
        return result

    def services(self, table: dict) -> dict[str, Service]:
        services: dict[str, Service] = {}
        for service_id, body in table.items():
            path = f"services.{service_id}"
            if not self.check_id(service_id, path, "service"):
                continue
            if not isinstance(body, dict):
                self.problem(path, f"expected a table, got {show_value(body)}")
                continue
            model_name = body.get("model")
            if not isinstance(model_name, str):
                self.problem(
                    f"{path}.model",
                    f"expected the name of a cost model, got {show_value(model_name)}",
                )
                continue
            model = self.registry.cost_models.get(model_name)
            if model is None:
                self.problem(
                    f"{path}.model",
                    self.unknown_plugged("cost model", model_name, self.registry.cost_models),
                )
                continue
            params = self.fields(body, model.parameters, path, skip=("model",))
            services[service_id] = Service(id=service_id, model=model_name, parameters=params)
        return services

    def unknown_plugged(self, what: str, name: str, known) -> str:
        """Why no cost model or rule has this name: a misspelling, or a plugin that did not
        load (said as such, never as a mere unknown name)."""
        message = unknown_name(what, name, known)
        not_loaded = self.registry.not_loaded()
        if name in not_loaded:  # plugins are often named after what they provide
            return (
                f"{what} {name!r} is not available: plugin {name!r} was not loaded: "
                + (not_loaded[name])
            )
        if not_loaded:
            plugins = "; ".join(f"{n!r}: {why}" for n, why in sorted(not_loaded.items()))
            message += f" (plugins not loaded, one of which may provide it: {plugins})"
        return message

    def members(self, table: dict, services: dict[str, Service]):
        members: list[Member] = []
        participations: list[Participation] = []
        bodies = {}
        for member_id, body in table.items():
            path = f"members.{member_id}"
            if not self.check_id(member_id, path, "member"):
                continue
            if not isinstance(body, dict):
                self.problem(path, f"expected a table, got {show_value(body)}")
                continue
            bodies[member_id] = body
        if not bodies and not self.problems:
            self.problem("members", "expected at least one member")
        neighbours = {m: set() for m in bodies}
        for member_id, body in bodies.items():
            path = f"members.{member_id}.neighbours"
            listed = body.get("neighbours", [])
            if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
                self.problem(path, f"expected a list of member ids, got {show_value(listed)}")
                continue
            for i, other in enumerate(listed):
                if other == member_id:
                    self.problem(f"{path}[{i}]", "a member cannot neighbour itself")
                elif other not in bodies:
                    self.problem(f"{path}[{i}]", unknown_name("member", other, bodies))
                else:
                    neighbours[member_id].add(other)
                    neighbours[other].add(member_id)
        for member_id, body in bodies.items():
            member = self.member(member_id, body, tuple(sorted(neighbours[member_id])))
            members.append(member)
            participations += self.participations(member, body, services)
        return members, participations

    def member(self, member_id: str, body: dict, neighbours: tuple[str, ...]) -> Member:
        path = f"members.{member_id}"
        self.unknown_keys(body, MEMBER_KEYS, path)
        name = body.get("name", member_id)
        problem = validate.name_problem(name)
        if problem:
            self.problem(f"{path}.name", problem)
        kind = body.get("kind", "council")
        if kind not in MEMBER_KINDS:
            self.problem(
                f"{path}.kind", f"expected one of {', '.join(MEMBER_KINDS)}, got {show_value(kind)}"
            )
        population = None
        if "population" in body:
            population, error = Field(name="population", unit="people", minimum=0).convert(
                body["population"]
            )
            if error:
                self.problem(f"{path}.population", error)
        return Member(
            id=member_id,
            name=name if isinstance(name, str) else member_id,
            kind=kind if isinstance(kind, str) else "council",
            population=population,
            location=self.location(body.get("location"), f"{path}.location"),
            neighbours=neighbours,
        )

    def location(self, value: Any, path: str) -> Location | None:
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"lat", "lon"}:
            self.problem(
                path, f"expected {{ lat = <degrees>, lon = <degrees> }}, got {show_value(value)}"
            )
            return None
        lat, lat_error = Field(name="lat", unit="degrees", minimum=-90, maximum=90).convert(
            value["lat"]
        )
        lon, lon_error = Field(name="lon", unit="degrees", minimum=-180, maximum=180).convert(
            value["lon"]
        )
        for key, error in (("lat", lat_error), ("lon", lon_error)):
            if error:
                self.problem(f"{path}.{key}", error)
        if lat_error or lon_error:
            return None
        if not _in_british_isles(lat, lon) and _in_british_isles(lon, lat):
            self.problem(
                path,
                f"lat = {lat}, lon = {lon} is far from the British Isles, and "
                f"lat = {lon}, lon = {lat} is in them: lat and lon look swapped",
            )
            return None
        return Location(lat=lat, lon=lon)

    def participations(self, member: Member, body: dict, services: dict[str, Service]):
        path = f"members.{member.id}.services"
        table = self.table(body, "services", path)
        result = []
        for service_id, values in table.items():
            where = f"{path}.{service_id}"
            if service_id not in services:
                if (
                    ID_PATTERN.fullmatch(service_id)
                    and service_id not in self.services_with_problems()
                ):
                    self.problem(where, unknown_name("service", service_id, services))
                continue
            if not isinstance(values, dict):
                self.problem(where, f"expected a table, got {show_value(values)}")
                continue
            share = values.get("share", True)
            if not isinstance(share, bool):
                self.problem(f"{where}.share", f"expected true or false, got {show_value(share)}")
            service = services[service_id]
            model = self.registry.cost_models[service.model]
            before = len(self.problems)
            fields = self.fields(values, model.member_fields, where, skip=("share",))
            if len(self.problems) == before:
                self.model_checks(model, service, Participant(member=member, fields=fields))
            result.append(
                Participation(
                    member=member, service=service_id, fields=fields, share=share is not False
                )
            )
        return result

    def model_checks(self, model, service: Service, participant: Participant) -> None:
        """The cost model's own checks of a member (a location it needs, say)."""
        member = participant.member.id
        try:
            found = model.check_participant(participant, service.parameters)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code, SystemExit included: name it
            owner = self.registry.owner_of_model(model.name)
            self.problem(
                f"members.{member}.services.{service.id}",
                f"cost model {model.name!r} (plugin {owner!r}) raised {type(exc).__name__}: {exc}",
            )
            return
        owner = self.registry.owner_of_model(model.name)
        if not isinstance(found, list | tuple) or not all(
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
            for pair in found
        ):
            self.problem(
                f"members.{member}.services.{service.id}",
                f"cost model {model.name!r} (plugin {owner!r}) check_participant returned "
                f"{show_value(found)}; expected a list of (key path, message) pairs",
            )
            return
        for relative, message in found:
            self.problem(f"members.{member}.{relative}", f"{message} (for {service.id})")

    def parameter_checks(self, service: Service, members: list[str]) -> None:
        """The cost model's own checks of the service's parameters (a list of groups, say)."""
        model = self.registry.cost_models[service.model]
        owner = self.registry.owner_of_model(model.name)
        path = f"services.{service.id}"
        try:
            found = model.check_parameters(service.parameters, tuple(members))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code, SystemExit included: name it
            self.problem(
                path,
                f"cost model {model.name!r} (plugin {owner!r}) raised {type(exc).__name__}: {exc}",
            )
            return
        if not isinstance(found, list | tuple) or not all(
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
            for pair in found
        ):
            self.problem(
                path,
                f"cost model {model.name!r} (plugin {owner!r}) check_parameters returned "
                f"{show_value(found)}; expected a list of (key path, message) pairs",
            )
            return
        for relative, message in found:
            self.problem(f"{path}.{relative}", message)

    def services_with_problems(self) -> set[str]:
        return {p.path.split(".")[1] for p in self.problems if p.path.startswith("services.")}

    def constraints(self, table: dict, consortium: Consortium):
        constraints = []
        for key, value in table.items():
            rule = self.registry.rules.get(key)
            path = f"constraints.{key}"
            if rule is None:
                self.problem(path, self.unknown_plugged("constraint", key, self.registry.rules))
                continue
            context = ParseContext(consortium=consortium, path=path, table=table)
            try:
                found, problems = rule.parse(value, context)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # plugin code, SystemExit included: name its plugin
                owner = self.registry.owners.get(("rule", key), "?")
                self.problem(path, f"rule plugin {owner!r} raised {type(exc).__name__}: {exc}")
                continue
            if not all(isinstance(p, Problem) for p in problems) or not all(
                callable(getattr(c, "allows_members", None)) for c in found
            ):
                owner = self.registry.owners.get(("rule", key), "?")
                self.problem(
                    path,
                    f"rule plugin {owner!r} parse returned something other than "
                    "(constraints, problems): a list of Constraint and a list of Problem",
                )
                continue
            self.problems += problems
            constraints += found
        return constraints


def reads_back(consortium: Consortium, registry: Registry, settings: Settings | None) -> bool:
    """Whether `consortium.text` (with its scenarios) still gives this consortium: a
    value changed in code with `attrs.evolve` keeps the text it was read from, and a
    worker process or a relaxed re-read must never work on the old figures. Constraint
    objects compare by the `[constraints]` table they were parsed from."""
    if not consortium.text:
        return False
    try:
        again = reread(consortium, registry, settings)
    except ConsortiumError:
        return False
    return attrs.evolve(again, constraints=()) == attrs.evolve(consortium, constraints=())


def reread(
    consortium: Consortium,
    registry: Registry,
    settings: Settings | None,
    change: Mapping[str, Any] | None = None,
) -> Consortium:
    """The consortium read again from its text, with its scenarios and then `change`."""
    return parse_consortium(
        consortium.text,
        source=consortium.source,
        registry=registry,
        settings=settings,
        scenario=consortium.scenario,
        change=change,
    )
