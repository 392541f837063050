"""The simulator's commands: ``simulate events``, ``simulate live`` and ``eval``, mounted by ``harvestguard.cli``.

harvestguard simulate events --preset small --output parquet:var/sim/events --truth var/sim
harvestguard simulate live --base-url http://127.0.0.1:8000 --manifest var/demo/manifest.json \
    --credentials var/demo/demo-credentials.json --truth var/live
harvestguard eval --preset small --seeds 1,2,3 --out var/eval
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from harvestguard.detect.evaluation import EvalDetector, eval_detector
from harvestguard.evaluate import evaluate
from harvestguard.simulate.engine import Progress as ProgressCallback
from harvestguard.simulate.live import LiveConfig, LiveReport, plan_live, run_live
from harvestguard.simulate.live_world import LiveSetupError, ServerWorld, load_credentials
from harvestguard.simulate.manifest import ManifestError, load_manifest
from harvestguard.simulate.run import run_event_mode
from harvestguard.simulate.scenario import PRESETS, Scenario, ScenarioError, preset

app = typer.Typer(help="Labelled traffic: benign people and partners, and adversaries.")
console = Console(stderr=True)

PresetOption = Annotated[
    str, typer.Option("--preset", help=f"A built-in scenario: {', '.join(PRESETS)}.")
]
ScenarioOption = Annotated[
    Path | None,
    typer.Option("--scenario", help="A scenario file (YAML or JSON); overrides --preset."),
]


def load_scenario(preset_name: str, path: Path | None, seed: int | None) -> Scenario:
    try:
        scenario = Scenario.load(path) if path is not None else preset(preset_name)
    except (ScenarioError, OSError) as error:
        raise typer.BadParameter(str(error)) from error
    return scenario if seed is None else scenario.with_seed(seed)


def _progress_bar(progress: Progress, task: TaskID) -> ProgressCallback:
    def update(events: int, share: float) -> None:
        progress.update(task, completed=share * 100, events=events)

    return update


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}% of the virtual time"),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=console,
    )


@app.command("events")
def events_command(
    output: Annotated[
        str,
        typer.Option("--output", help="Where events go: parquet:DIR, duckdb:PATH or jsonl:PATH."),
    ],
    truth: Annotated[
        Path, typer.Option("--truth", help="Directory for ground_truth.json and labels.parquet.")
    ],
    preset_name: PresetOption = "small",
    scenario_path: ScenarioOption = None,
    seed: Annotated[int | None, typer.Option(help="Overrides the scenario's seed.")] = None,
    world: Annotated[
        Path | None,
        typer.Option("--world", help="A world manifest (JSON) instead of a generated world."),
    ] = None,
    max_events: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
) -> None:
    """Generate events on a virtual clock (event mode), with their ground truth."""
    scenario = load_scenario(preset_name, scenario_path, seed)
    try:
        loaded = None if world is None else load_manifest(world)
    except (ManifestError, OSError) as error:
        raise typer.BadParameter(str(error)) from error
    with _progress() as progress:
        task = progress.add_task(
            f"scenario {scenario.name}, seed {scenario.seed}", total=100, events=0
        )
        try:
            result = run_event_mode(
                scenario,
                output=output,
                truth_dir=truth,
                world=loaded,
                max_events=max_events,
                progress=_progress_bar(progress, task),
            )
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
    adversaries = sum(1 for actor in result.ground_truth.actors.values() if actor.adversary)
    console.print(
        f"{result.count:,} events from {len(result.ground_truth.actors):,} actors "
        f"({adversaries} adversaries) in {result.seconds:.1f} s "
        f"({result.events_per_minute:,.0f} events/minute) -> {output}; ground truth in {truth}"
    )


def eval_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for evaluation.json and evaluation.md.")
    ],
    preset_name: PresetOption = "small",
    scenario_path: ScenarioOption = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "1,2,3",
    threshold: Annotated[
        int, typer.Option(help="The baseline's requests per address per window.")
    ] = 300,
    window_minutes: Annotated[int, typer.Option(help="The baseline's window.")] = 10,
    detector_name: Annotated[
        EvalDetector, typer.Option("--detector", help="What to score.")
    ] = EvalDetector.ENGINE,
) -> None:
    """Score detection on labelled traffic, per adversary class, over several seeds.

    Scores the detection engine by default; --detector baseline scores the fail2ban-style baseline.
    """
    scenario = load_scenario(preset_name, scenario_path, None)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError as error:
        raise typer.BadParameter(f"seeds are integers separated by commas: {seeds!r}") from error
    if not seed_list:
        raise typer.BadParameter("give at least one seed")
    detector = eval_detector(detector_name, threshold, window_minutes)
    with _progress() as progress:

        def per_seed(seed: int) -> ProgressCallback:
            task = progress.add_task(f"seed {seed}", total=100, events=0)
            return _progress_bar(progress, task)

        evaluation = evaluate(scenario, seed_list, detector, progress=per_seed)
    json_path, markdown_path = evaluation.write(out)
    typer.echo(evaluation.markdown())
    console.print(f"written: {json_path}, {markdown_path}")


@app.command("live")
def live_command(
    manifest: Annotated[
        Path, typer.Option("--manifest", help="The world manifest of the server's database.")
    ],
    truth: Annotated[
        Path,
        typer.Option(
            "--truth", help="Directory for ground_truth.json, labels.parquet, live_report.json."
        ),
    ],
    pseudonym_key: Annotated[
        str,
        typer.Option(
            "--pseudonym-key",
            envvar="HARVESTGUARD_PSEUDONYM_KEY",
            help="The server's HARVESTGUARD_PSEUDONYM_KEY, to pseudonymise the ground truth alike.",
        ),
    ],
    base_url: Annotated[
        str, typer.Option("--base-url", help="The server, on loopback only.")
    ] = "http://127.0.0.1:8000",
    password: Annotated[
        str | None,
        typer.Option(help="The seeded accounts' password [default: from --credentials]."),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(help="Partner credentials and password, as `photoshare demo` writes them."),
    ] = None,
    preset_name: PresetOption = "small",
    scenario_path: ScenarioOption = None,
    seed: Annotated[int | None, typer.Option(help="Overrides the scenario's seed.")] = None,
    speed: Annotated[float, typer.Option(help="Virtual seconds per real second.")] = 60.0,
    max_seconds: Annotated[float, typer.Option(help="Hard cap on the real duration.")] = 60.0,
    max_requests: Annotated[int, typer.Option(help="Hard cap on requests sent.")] = 20_000,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most.")] = 32,
    rate: Annotated[float, typer.Option(help="Requests per real second at most.")] = 200.0,
) -> None:
    """Drive real HTTP traffic at a running photoshare + guard on loopback (live mode).

    The server must trust this runner as its reverse proxy (HARVESTGUARD_TRUSTED_PROXIES=127.0.0.1/32)
    and share its pseudonym key. Ctrl-C stops cleanly: requests in flight finish, the truth is written.
    """
    scenario = load_scenario(preset_name, scenario_path, seed)
    try:
        server = ServerWorld.load(manifest)
        stored_password, partners = (
            (None, []) if credentials is None else load_credentials(credentials)
        )
        secret = password or stored_password
        if secret is None:
            raise typer.BadParameter("give --password or a --credentials file holding it")
        config = LiveConfig(
            base_url=base_url,
            password=secret,
            key=pseudonym_key.encode(),
            credentials=tuple(partners),
            speed=speed,
            max_seconds=max_seconds,
            max_requests=max_requests,
            max_concurrency=concurrency,
            max_rate=rate,
        )
        plan = plan_live(scenario, server, key=config.key, speed=speed, max_seconds=max_seconds)
    except (LiveSetupError, ValueError) as error:
        raise typer.BadParameter(str(error)) from error
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>5.1f}/{task.total:.0f} s"),
        TextColumn("{task.fields[sent]:,} requests"),
        TextColumn("{task.fields[statuses]}"),
        console=console,
    )
    with progress:
        task = progress.add_task(
            f"live {scenario.name}, seed {scenario.seed}", total=max_seconds, sent=0, statuses=""
        )

        def update(report: LiveReport) -> None:
            statuses = " ".join(f"{k}:{v:,}" for k, v in sorted(report.by_status.items()))
            progress.update(
                task,
                completed=min(report.elapsed, max_seconds),
                sent=report.sent,
                statuses=statuses,
            )

        result = run_live(plan, config, truth_dir=truth, progress=update)
    report = result.report
    console.print(
        f"{report.answered:,} requests answered of {report.sent:,} sent in {report.elapsed:.1f} s "
        f"({report.rate:,.0f}/s), {report.virtual_seconds / 3600:.2f} virtual hours; "
        f"ground truth in {truth}"
    )
    if report.unresolved_accounts:
        console.print(
            f"{len(report.unresolved_accounts)} signed-up accounts have no known id: their "
            "events are attributed by session, address and fingerprint only."
        )
