"""The `sharedsvc` command: a thin layer over the public API.

Exit statuses: 0 solved, 1 infeasible, 2 bad input or usage, 3 solver failure,
130 interrupted.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from pathlib import Path

import attrs
import click

from sharedsvc import __version__
from sharedsvc import output as outputs
from sharedsvc.constants import Solver
from sharedsvc.engine import Engine
from sharedsvc.errors import ConsortiumError, Problem, SharedsvcError, UsageError
from sharedsvc.report.catalogue import FORMATS as FORMATS_CATALOGUE
from sharedsvc.report.catalogue import describe, reference_markdown
from sharedsvc.report.catalogue import render as render_catalogue
from sharedsvc.report.text import FORMATS, printable, render, result_tables
from sharedsvc.stopping import StopToken
from sharedsvc.tracking.compare import THRESHOLD, TOLERANCE
from sharedsvc.wording import counted

SOLVERS = tuple(s.value for s in Solver)


def _engine() -> Engine:
    """The engine for this command: the installed plugins, or one an embedder passed as
    the click context's `obj` (`main(obj=engine)`)."""
    given = click.get_current_context().find_root().obj
    if isinstance(given, Engine):
        return given
    engine = Engine.create()
    for failure in engine.registry.failures:
        reason = printable(" ".join(failure.reason.splitlines()))
        click.echo(f"warning: plugin {failure.name!r} not loaded: {reason}", err=True)
    return engine


def _fail(error: SharedsvcError) -> None:
    lines = str(error).splitlines() or [""]  # each line made printable: no forged lines
    click.echo("error: " + "\n".join(printable(line) for line in lines), err=True)
    sys.exit(error.exit_code)


STOP_KEY = "sharedsvc.stop"
"""Where a command finds the run's `StopToken` in `click.Context.meta`."""
STDOUT_KEY = "sharedsvc.stdout"
"""Where a command finds the real stdout: while a command runs, `sys.stdout` is stderr."""


def _result(text: str) -> None:
    """Write a command's result to the real stdout (what plugins print went to stderr)."""
    stream = click.get_current_context().find_root().meta.get(STDOUT_KEY, sys.stdout)
    click.echo(text, file=stream, nl=False)


class _Group(click.Group):
    """Turns sharedsvc errors into messages and exit statuses, never tracebacks; SIGINT
    and SIGTERM set the run's `StopToken`, so solvers (and their threads and child
    processes) end, temporary files go and outputs stay whole."""

    def invoke(self, ctx: click.Context):
        stop = ctx.meta.setdefault(STOP_KEY, StopToken())
        ctx.meta.setdefault(STDOUT_KEY, sys.stdout)
        try:
            # stdout carries the result alone: whatever plugins print goes to stderr
            with stop.watch_signals(), contextlib.redirect_stdout(sys.stderr):
                return super().invoke(ctx)
        except SharedsvcError as error:
            _fail(error)
        except KeyboardInterrupt as interruption:
            click.echo("interrupted; no output was written", err=True)
            code = getattr(interruption, "exit_code", 130)
            if stop.solvers_running:  # a native solve still winding down: exit now
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            sys.exit(code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="sharedsvc")
def main() -> None:
    """Decide which services to share with whom, exactly.

    \b
    Example:
      sharedsvc optimise consortia/south-east-london.toml
    """


def _same_file(a: Path, b: Path) -> bool:
    return b.exists() and a.exists() and a.resolve() == b.resolve()


SUFFIXES = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
}
"""The format an output file's name asks for, when --format does not say."""
FILE_ONLY = ("xlsx",)
"""Formats that are files, not text: they need --output."""


def _format_and_output(formats: tuple[str, ...] = FORMATS):
    """The `--format` and `--output` options that every command with a result shares."""

    def decorate(command):
        command = click.option(
            "--output",
            "-o",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Write the result to FILE (atomically) instead of stdout; its suffix "
            "(.json, .csv, .md, .xlsx, .html) picks the format unless --format is given.",
        )(command)
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default=None,
            help="Output format [default: from --output's suffix, else table].",
        )(command)

    return decorate


def _chosen_format(fmt: str | None, output: Path | None, formats: tuple[str, ...]) -> str:
    """--format, else what --output's suffix asks for, else the table; checked before any
    work, so a wrong choice costs a second, not a run."""
    if fmt is None:
        fmt = SUFFIXES.get(output.suffix.lower(), "table") if output is not None else "table"
        if fmt not in formats:
            raise UsageError(
                f"{output} asks for {fmt}, which this command does not write; "
                f"give --format ({', '.join(formats)}) or another file name"
            )
    if fmt in FILE_ONLY and output is None:
        raise UsageError(f"--format {fmt} writes a file: add --output FILE.{fmt}")
    return fmt


def _scenario_option(command):
    """`--scenario NAME`: apply FILE's `[scenarios.NAME]` (repeat, or a,b, to combine)."""
    return click.option(
        "--scenario",
        "scenario",
        multiple=True,
        metavar="NAME",
        help="Apply FILE's [scenarios.NAME] overrides; repeat (or give a,b) to combine.",
    )(command)


def _names(given) -> tuple[str, ...]:
    """Scenario names from repeated options and comma-separated lists."""
    return tuple(n.strip() for value in given for n in value.split(",") if n.strip())


def _check_output(file: Path, target: Path | None, what: str = "the consortium file") -> None:
    """Before any work: an output path that is the input, or cannot be written, is refused."""
    if target is None:
        return
    if _same_file(file, target):
        raise UsageError(f"{target} is {what} itself; choose another output")
    outputs.check(target)  # a wrong path is found in a second, not after the run


def _progress(quiet: bool):
    """Progress lines on stderr, or nothing with --quiet."""
    if quiet:
        return lambda message: None
    return lambda message: click.echo(printable(message), err=True)


def _deliver(text: str, output: Path | None) -> None:
    """The result on stdout, or written atomically to --output."""
    if output is None:
        _result(text)
    else:
        outputs.write_atomically(output, text)
        click.echo(f"wrote {output}", err=True)


def _deliver_workbook(found, output: Path) -> None:
    """Typed tables as an .xlsx workbook, written atomically to --output."""
    from sharedsvc.report.xlsx import write_workbook

    outputs.write_file_atomically(output, lambda tmp: write_workbook(tmp, found))
    click.echo(f"wrote {output}", err=True)


WORKBOOK_FORMATS = (*FORMATS, "xlsx")
"""What the analyses write: text formats and a workbook."""
PLAN_FORMATS = (*WORKBOOK_FORMATS, "html")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_format_and_output(PLAN_FORMATS)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop after SECONDS with the best plan and its proven gap.",
)
@click.option(
    "--solver",
    type=click.Choice(SOLVERS),
    default="auto",
    show_default=True,
    help="MIP solver: auto picks per block (HiGHS for large single services and very "
    "large blocks, CBC for the rest).",
)
@click.option(
    "--write-model",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE.mps",
    help="Also write the whole model as MPS for other solvers (it minimises minus the objective).",
)
@click.option(
    "--years",
    is_flag=True,
    help="With table or markdown: add the year-by-year cash flows (each service and in all).",
)
@_scenario_option
@click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
def optimise(file, fmt, output, time_limit, solver, write_model, years, scenario, quiet):
    """Find the groupings of FILE's members that maximise the savings.

    \b
    Examples:
      sharedsvc optimise consortia/south-east-london.toml
      sharedsvc optimise consortia/south-east-london.toml --format json -o plan.json
      sharedsvc optimise big.toml --time-limit 60 --solver highs
      sharedsvc optimise consortia/south-east-london.toml --years
      sharedsvc optimise consortia/cross-sector.toml --scenario without_nhs -o plan.xlsx
    """
    fmt = _chosen_format(fmt, output, PLAN_FORMATS)
    for target in (output, write_model):
        _check_output(file, target)
    if output is not None and write_model is not None and outputs.same_target(output, write_model):
        raise UsageError(f"--output and --write-model both name {output}; choose two files")
    engine = _engine()
    consortium = engine.load(file, scenario=_names(scenario))
    progress = _progress(quiet)
    result = engine.optimise(
        consortium,
        solver=solver,
        time_limit=time_limit,
        progress=progress,
        write_model=write_model,
        stop=click.get_current_context().meta[STOP_KEY],
    )
    if fmt == "xlsx":
        _deliver_workbook(result_tables(result), output)
    elif fmt == "html":
        _deliver(_report(engine, consortium, result), output)
    else:
        _deliver(render(result, fmt, years=years), output)
    if not result.solved:
        click.echo(f"error: {printable(result.message)}", err=True)
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--draws", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same numbers.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for the draws (default: the machine's cores).",
)
@_format_and_output()
@click.option(
    "--reoptimise",
    is_flag=True,
    help="Also run the optimiser for every draw: how often each partnership is chosen.",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run the draws on this Dask cluster (pip install 'sharedsvc[dask]').",
)
@click.option(
    "--scheduler-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to try to reach the --scheduler.",
)
@_scenario_option
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def simulate(
    file,
    draws,
    seed,
    workers,
    fmt,
    output,
    reoptimise,
    scheduler,
    scheduler_timeout,
    scenario,
    quiet,
):
    """Evaluate the optimised plan under draws of FILE's uncertain inputs: the spread of
    npv for the plan, each group and member, P(npv > 0), payback years, a tornado of the
    inputs that matter most and their switching values.

    \b
    Examples:
      sharedsvc simulate consortia/south-east-london.toml --draws 1000 --seed 1
      sharedsvc simulate big.toml --draws 10000 --workers 2 --format json -o draws.json
      sharedsvc simulate big.toml --draws 200 --reoptimise --scheduler tcp://10.0.0.5:8786
    """
    from sharedsvc.uncertainty.summary import render as render_simulation

    fmt = _chosen_format(fmt, output, FORMATS)
    _check_output(file, output)
    engine = _engine()
    consortium = engine.load(file, scenario=_names(scenario))
    progress = _progress(quiet)
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=draws, unit="draw", file=sys.stderr, leave=False)
    client = None
    if scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise UsageError(
                "--scheduler needs dask.distributed: pip install 'sharedsvc[dask]'"
            ) from exc
        try:
            client = Client(scheduler, timeout=scheduler_timeout)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from exc
    try:
        found = engine.simulate(
            consortium,
            draws=draws,
            seed=seed,
            workers=workers or os.cpu_count() or 1,
            progress=progress,
            advance=None if bar is None else bar.update,
            reoptimise=reoptimise,
            client=client,
        )
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
    _deliver(render_simulation(found, fmt), output)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_scenario_option
def validate(file, scenario):
    """Check FILE against the consortium format and the cost models; solve nothing.
    Every scenario FILE defines is checked too.

    \b
    Example:
      sharedsvc validate consortia/south-east-london.toml
    """
    engine = _engine()
    consortium = engine.load(file, scenario=_names(scenario))
    problems: list[Problem] = []  # every scenario's problems at once, as for the file
    for name in consortium.scenarios:
        try:
            engine.parse(consortium.text, str(file), scenario=(name,))  # read once
        except ConsortiumError as exc:
            problems += [Problem(p.path, f"[scenario {name}] {p.message}") for p in exc.problems]
    if problems:
        raise ConsortiumError(str(file), problems)
    checked = list(consortium.scenarios)
    for warning in engine.size_warnings(consortium):
        click.echo(f"warning: optimise will refuse this file: {printable(warning)}", err=True)
    services = ", ".join(s.id for s in consortium.services)
    keys = list(consortium.settings)
    constraints = f"{counted(len(keys), 'constraint')}" + (f" ({', '.join(keys)})" if keys else "")
    scenarios = (
        f", {counted(len(checked), 'scenario')} ({', '.join(consortium.scenarios)})"
        if checked
        else ""
    )
    _result(
        f"{file}: valid: {counted(len(consortium.members), 'member')}, "
        f"{counted(len(consortium.services), 'service')} ({services}), {constraints}"
        f"{scenarios}\n"
    )


def _report(engine: Engine, consortium, result) -> str:
    from sharedsvc.report.html import committee_report

    return committee_report(result, consortium, engine.registry)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The HTML file to write (atomically).",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop after SECONDS with the best plan and its proven gap.",
)
@_scenario_option
@click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
def report(file, output, time_limit, scenario, quiet):
    """Optimise FILE and write one self-contained HTML page for a committee: a map of
    the members coloured by group for every service, bars of npv by service and member,
    each member's figures, stability, the cash flows, the benchmark of unit costs and
    every assumption with its source. It loads nothing from the network and prints on
    A4 from the browser.

    \b
    Example:
      sharedsvc report consortia/south-east-london.toml -o report.html
    """
    _check_output(file, output)
    if output.suffix.lower() not in ("", ".html", ".htm"):
        raise UsageError(f"{output}: the report is HTML; name it report.html")
    engine = _engine()
    consortium = engine.load(file, scenario=_names(scenario))
    result = engine.optimise(
        consortium,
        time_limit=time_limit,
        progress=_progress(quiet),
        stop=click.get_current_context().meta[STOP_KEY],
    )
    _deliver(_report(engine, consortium, result), output)
    if not result.solved:
        click.echo(f"error: {printable(result.message)}", err=True)
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_format_and_output(WORKBOOK_FORMATS)
@_scenario_option
def benchmark(file, fmt, output, scenario):
    """Rank FILE's members on each service's unit costs and indicators (cost per
    transaction, per employee, per case, per pupil; the share made electronically...)
    against each other and against the published peer figures each cost model ships,
    with the yearly saving if a member moved to the median or the top quartile.

    \b
    Examples:
      sharedsvc benchmark consortia/london.toml
      sharedsvc benchmark consortia/london.toml -o benchmark.xlsx
    """
    from sharedsvc.benchmarking import benchmark as measure
    from sharedsvc.report.benchmark import benchmark_tables
    from sharedsvc.report.benchmark import render as render_benchmark

    fmt = _chosen_format(fmt, output, WORKBOOK_FORMATS)
    _check_output(file, output)
    engine = _engine()
    consortium = engine.load(file, scenario=_names(scenario))
    found = measure(consortium, engine.registry)
    if fmt == "xlsx":
        _deliver_workbook(benchmark_tables(found), output)
    else:
        _deliver(render_benchmark(consortium.name, found, fmt), output)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--member", required=True, metavar="ID", help="The member to explain.")
@click.option("--service", metavar="ID", help="Only this service (default: every one).")
@click.option(
    "--with",
    "together_with",
    multiple=True,
    metavar="ID",
    help="Why not with this member? Repeat for several.",
)
@click.option(
    "--alternatives",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="How many of the best other groups to show, each solved exactly.",
)
@click.option(
    "--max-solves",
    type=click.IntRange(1, 10_000),
    default=40,
    show_default=True,
    help="Most forced plans to re-optimise per service before saying what is left unproven.",
)
@click.option(
    "--solve-seconds",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Time for each forced plan (default 10; 0 for no limit): past it, its value is "
    "given with the most it could be worth.",
)
@click.option(
    "--no-relax",
    is_flag=True,
    help="Skip re-optimising with each constraint relaxed by one unit.",
)
@_format_and_output(WORKBOOK_FORMATS)
@_scenario_option
@click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
def explain(
    file,
    member,
    service,
    together_with,
    alternatives,
    max_solves,
    solve_seconds,
    no_relax,
    fmt,
    output,
    scenario,
    quiet,
):
    """Why MEMBER is in its group or alone: the best other groups containing it (and the
    --with members) with the exact npv of the best plan that has each (re-optimised with
    the group forced in), what made each worse or what forbids it, and the constraints
    that bind the plan with what relaxing each by one unit is worth.

    \b
    Examples:
      sharedsvc explain consortia/south-east-london.toml --member greenwich
      sharedsvc explain consortia/south-east-london.toml --member bexley --service hr \\
          --with greenwich
    """
    from sharedsvc.report.whynot import explanation_tables
    from sharedsvc.report.whynot import render as render_explanation
    from sharedsvc.whynot import explain_member

    fmt = _chosen_format(fmt, output, WORKBOOK_FORMATS)
    _check_output(file, output)
    engine = _engine()
    consortium = engine.load(file, scenario=_names(scenario))
    settings = engine.settings
    if solve_seconds is not None:
        settings = attrs.evolve(settings, explain_seconds=solve_seconds)
    found = explain_member(
        consortium,
        engine.registry,
        settings,
        member,
        service=service,
        together_with=together_with,
        alternatives=alternatives,
        max_solves=max_solves,
        relax=not no_relax,
        progress=_progress(quiet),
        stop=click.get_current_context().meta[STOP_KEY],
    )
    if fmt == "xlsx":
        _deliver_workbook(explanation_tables(found), output)
    else:
        _deliver(render_explanation(found, fmt), output)
    if not found.services and found.notes:
        click.echo(f"error: {printable(found.notes[0])}", err=True)
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--scenario",
    "scenario",
    multiple=True,
    metavar="NAME",
    help="A plan to compare: a scenario of FILE, 'base' for the file alone, or a,b for "
    "two combined. With one, it is compared with base; the first is the reference.",
)
@_format_and_output(WORKBOOK_FORMATS)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Each plan's time limit.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
def compare(file, scenario, fmt, output, time_limit, quiet):
    """Optimise FILE under several scenarios and show the plans side by side: status,
    totals and each member's npv, the partnerships that appear or disappear, and the
    differences from the first plan.

    \b
    Examples:
      sharedsvc compare consortia/cross-sector.toml --scenario without_nhs
      sharedsvc compare consortia/cross-sector.toml --scenario base --scenario blue_light_apart
      sharedsvc compare consortia/cross-sector.toml --scenario without_nhs -o compare.xlsx
    """
    from sharedsvc.comparison import Comparison
    from sharedsvc.report.comparison import comparison_tables
    from sharedsvc.report.comparison import render as render_comparison

    fmt = _chosen_format(fmt, output, WORKBOOK_FORMATS)
    _check_output(file, output)
    plans = [v.strip() for v in scenario if v.strip()]
    if not plans or plans == ["base"]:
        raise UsageError("give a scenario to compare with the file: --scenario NAME")
    if len(plans) == 1:
        plans.insert(0, "base")
    if len(set(plans)) != len(plans):
        raise UsageError(f"--scenario names a plan twice: {', '.join(plans)}")
    engine = _engine()
    consortia = {name: engine.load(file, scenario=_names([name])) for name in plans}
    progress = _progress(quiet)
    results = {}
    for name, consortium in consortia.items():
        progress(f"optimising {name}")
        results[name] = engine.optimise(
            consortium,
            time_limit=time_limit,
            progress=progress,
            stop=click.get_current_context().meta[STOP_KEY],
        )
    described = next(iter(consortia.values())).scenarios
    descriptions = {name: described.get(name, "") for name in plans}
    found = Comparison(results=results, descriptions=descriptions)
    if fmt == "xlsx":
        _deliver_workbook(comparison_tables(found), output)
    else:
        _deliver(render_comparison(found, fmt), output)
    for name in found.unsolved():
        click.echo(f"error: {name}: {printable(results[name].message)}", err=True)
    if found.unsolved():
        sys.exit(1)


@main.command()
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path))
@click.argument("actuals_file", metavar="ACTUALS", type=click.Path(path_type=Path))
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="Track as of DATE (YYYY-MM-DD, not after today) instead of today: years not "
    "ended by then are forecast, and actuals for them, or dated after DATE, are refused.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=THRESHOLD,
    show_default=True,
    help="A partnership is at risk below this share of its planned saving to date.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 1),
    default=TOLERANCE,
    show_default=True,
    help="Within this share of the plan either way, a partnership is on track.",
)
@click.option(
    "--draws",
    type=click.IntRange(1, 1_000_000),
    default=None,
    metavar="N",
    help="Also spread the forecast over N draws of the plan's uncertain inputs.",
)
@click.option("--seed", type=int, default=None, help="With --draws: their seed.  [default: 0]")
@click.option(
    "--replan",
    is_flag=True,
    help="Also re-optimise the remaining years from the last year ended, with the realised "
    "figures and today's partnerships as the starting point, and show what to change.",
)
@click.option(
    "--exit-cost",
    "exit_share",
    type=click.FloatRange(min=0, max=100),
    default=None,
    metavar="SHARE",
    help="With --replan: leaving a partnership costs SHARE times its one-off cost "
    "[default: the plan's exit_cost].",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="With --replan: stop re-optimising after SECONDS with the best plan and its gap.",
)
@_format_and_output(PLAN_FORMATS)
@click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
def track(
    plan_file,
    actuals_file,
    as_of,
    threshold,
    tolerance,
    draws,
    seed,
    replan,
    exit_share,
    time_limit,
    fmt,
    output,
    quiet,
):
    """Track what each partnership of PLAN (`sharedsvc optimise FILE -o plan.json`) has
    delivered against it, from ACTUALS (a TOML file of each partnership's realised costs
    by year): saving to date planned and realised, the variance and its trend, the
    forecast npv, the partnerships at risk and the members whose gains turned negative.

    \b
    Examples:
      sharedsvc optimise consortia/south-east-london.toml -o plan.json
      sharedsvc track plan.json consortia/south-east-london-actuals.toml
      sharedsvc track plan.json consortia/south-east-london-actuals.toml -o tracking.html
      sharedsvc track plan.json consortia/south-east-london-actuals.toml --draws 200 --replan
    """
    from sharedsvc.report.tracking import render as render_tracking
    from sharedsvc.report.tracking import tracking_tables
    from sharedsvc.tracking.actuals import read_actuals
    from sharedsvc.tracking.compare import track as compare
    from sharedsvc.tracking.plan import read_plan

    fmt = _chosen_format(fmt, output, PLAN_FORMATS)
    _check_output(plan_file, output, "the plan file")
    _check_output(actuals_file, output, "the actuals file")
    for given, name, wanted, flag in (
        (exit_share, "--exit-cost", replan, "--replan"),
        (time_limit, "--time-limit", replan, "--replan"),
        (seed, "--seed", draws is not None, "--draws"),
    ):
        if given is not None and not wanted:
            raise UsageError(f"{name} goes with {flag}")
    today = datetime.date.today()
    day = today if as_of is None else as_of.date()
    if day > today:
        raise UsageError(f"--as-of {day} is after today ({today}): what is not known yet")
    plan = read_plan(plan_file)
    actuals = read_actuals(actuals_file, plan, day)
    found = compare(plan, actuals, threshold=threshold, tolerance=tolerance)
    progress = _progress(quiet)
    if draws is not None or replan:
        engine = _engine()
        if draws is not None:
            from sharedsvc.tracking.draws import forecast_spread

            found = forecast_spread(
                found,
                engine.registry,
                engine.settings,
                draws=draws,
                seed=0 if seed is None else seed,
                progress=progress,
            )
        if replan:
            from sharedsvc.tracking.replan import replan as replanned

            settings = engine.settings
            if time_limit is not None:
                settings = attrs.evolve(settings, time_limit=time_limit)
            found = attrs.evolve(
                found,
                replan=replanned(
                    found,
                    engine.registry,
                    settings,
                    exit_share=exit_share,
                    progress=progress,
                    stop=click.get_current_context().meta[STOP_KEY],
                ),
            )
    if fmt == "xlsx":
        _deliver_workbook(tracking_tables(found), output)
    else:
        _deliver(render_tracking(found, fmt), output)
    if found.replan is not None and found.replan.replan_npv is None:
        click.echo(f"error: --replan: {printable(found.replan.message)}", err=True)
        sys.exit(1)


@main.command()
@click.argument("name", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS_CATALOGUE), default="table", show_default=True
)
@click.option(
    "--reference",
    is_flag=True,
    help="Print docs/cost-models.md: the built-in models' reference, in Markdown.",
)
def plugins(name, fmt, reference):
    """List installed plugins, their cost models (fields, parameters, defaults, sources)
    and rules; with NAME, one cost model or rule with its formulas.

    \b
    Examples:
      sharedsvc plugins
      sharedsvc plugins sen_transport                 # formulas and sources
      SHAREDSVC_DISABLE_PLUGINS=1 sharedsvc plugins   # built-ins only
    """
    if reference:
        _result(reference_markdown(Engine.create(autoload=False).registry))
        return
    _result(render_catalogue(describe(_engine().registry), fmt, only=name))
