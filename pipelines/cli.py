"""The ``jumpup`` command: one small command per pipeline step, plus ``demo``.

Commands read params.yaml (``--params`` for another file), call one pipeline function and print
what they wrote. Errors in the input are reported in one clear message and exit code 2.
"""

from __future__ import annotations

import errno
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, get_args

import typer

from jumpup.locks import OutputLocked
from jumpup.pipelines.console import console, error_console, plain, print_ingest_summary, print_warning, progress_bar
from jumpup.pipelines.console import table as console_table
from jumpup.settings import DEFAULT_PARAMS_PATH, AmountUnit, SettingsError, TargetName, load_settings
from jumpup.tracking import CHAMPION_URI, interrupted

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Jump-Up (도약) STEP 1 scoring pipeline.")


def _print_version(value: bool) -> None:
    if value:
        from jumpup.provenance import code_version

        print(f"jumpup {code_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the code version and exit."),
    ] = False,
) -> None:
    """Jump-Up (도약) STEP 1 scoring pipeline."""
    # A command's output is its own lines: no MLflow download bars or store set-up notes around them.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


import_app = typer.Typer(no_args_is_help=True, help="Import data from outside formats into the panel format.")
app.add_typer(import_app, name="import")

ParamsOption = Annotated[Path, typer.Option("--params", help="Settings file (YAML).")]


def _choices(name: str, values: tuple[str, ...]) -> type[StrEnum]:
    """A string enum whose members are ``values`` (member name = value, '-' read as '_')."""
    return StrEnum(name, [(value.replace("-", "_"), value) for value in values])


# Choices of the command options: --help lists them and any other value exits 2 with typer's message.
FileFormat = _choices("FileFormat", ("csv", "parquet"))
Language = _choices("Language", ("ko", "en"))
Target = _choices("Target", get_args(TargetName))
AmountUnitChoice = _choices("AmountUnitChoice", get_args(AmountUnit))
# jumpup.intake.dart_bulk.StatementMode (kept equal by tests/pipelines/test_cli.py; not imported here so
# that the command starts without loading pandas).
StatementChoice = _choices("StatementChoice", ("separate", "consolidated", "prefer-consolidated"))


def _settings(params: Path, overrides: dict | None = None):
    try:
        return load_settings(params, overrides)
    except SettingsError as exc:
        _fail(str(exc))


def _model_en(info: dict) -> str:
    """The model as the English console names it: version (or bundle hash) and alias, and whether
    it is the promoted champion (the Korean pages use ``jumpup.rendering.wording.model_label``)."""
    alias = f" ({info['model_alias']})" if info.get("model_alias") else ""
    promoted = "" if info.get("model_promoted", True) else " - not promoted"
    return f"{info['model_version']}{alias}{promoted}"


def _panel_quarantine(count: int, out: Path) -> None:
    """The console line of a stage that read an imported panel and left rows out (none when none)."""
    if count:
        console.print(f"[yellow]{count:,} panel row(s) quarantined: {plain(out / 'quarantine.csv')}[/yellow]")


def _fail(message: str) -> None:
    error_console.print(f"[red]error:[/red] {plain(message)}")  # the message quotes input as written: never markup
    raise typer.Exit(2)


def _os_error(exc: OSError) -> str:
    """One line for a file-system error: the file, what the system said and what to check."""
    where = exc.filename or "output"
    hint = {
        errno.EACCES: "check that --out is writable",
        errno.EPERM: "check that --out is writable",
        errno.EROFS: "the folder is on a read-only file system; choose another --out",
        errno.ENOSPC: "the disk is full; free space or choose another --out",
        errno.EDQUOT: "the disk quota is used up; free space or choose another --out",
    }.get(exc.errno, "")
    return f"{where}: {exc.strerror or exc}" + (f" ({hint})" if hint else "")


def _step(description: str, work, errors: tuple[type[Exception], ...] = ()):
    """Run one step under a progress bar; the listed input errors become one clear message, exit 2.

    File-system errors (missing input, read-only or full output folder) and a busy output folder
    are always reported this way.
    """
    try:
        with progress_bar() as progress:
            task = progress.add_task(description, total=1)
            result = work()
            progress.advance(task)
    except OSError as exc:
        _fail(_os_error(exc))
    except OutputLocked as exc:
        _fail(str(exc))
    except errors as exc:
        _fail(str(exc))
    return result


def _print_quarantined(rows: int, where: Path) -> None:
    """The input rows the contracts rejected, and where each one's reason is; nothing when none."""
    if rows:
        console.print(f"[yellow]{rows:,} input row(s) quarantined[/yellow] (reason per row: {plain(where)})")


def _print_skipped(read: int, done: int, skipped: int, where: Path, done_as: str = "scored") -> None:
    """read / done / skipped, and where the reason for each skipped firm is."""
    line = f"firms read {read:,} = {done_as} {done:,} + skipped {skipped:,}"
    if skipped:
        console.print(f"[yellow]{plain(line)}[/yellow] (reason per firm: {plain(where)})")
    else:
        console.print(line)


@app.command()
def synth(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (history/ and round/). Default: params.yaml paths.synthetic_dir."),
    ] = None,
    firms: Annotated[
        int | None, typer.Option("--firms", help="Firms in the history panel. Default: params.yaml synth.firms.")
    ] = None,
    applicants: Annotated[
        int | None,
        typer.Option("--applicants", help="Firms in the application round. Default: params.yaml synth.applicants."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed. Default: params.yaml seed.")] = None,
    years: Annotated[
        int | None, typer.Option("--years", help="Fiscal years in the history panel. Default: params.yaml synth.")
    ] = None,
    fmt: Annotated[FileFormat, typer.Option("--format", help="Output file format.")] = FileFormat.csv,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Generate a deterministic synthetic panel and application round (same seed, same bytes)."""
    from jumpup.pipelines import synth as synth_stage

    overrides = {"synth": {k: v for k, v in {"firms": firms, "applicants": applicants, "years": years}.items() if v}}
    settings = _settings(params, overrides)
    out = out or settings.paths.resolve(settings.paths.synthetic_dir)
    manifest = _step(
        f"synth {settings.synth.firms:,} firms",
        lambda: synth_stage.run(settings, out, seed if seed is not None else settings.seed, fmt.value),
    )
    console.print(
        f"wrote {manifest['firms']:,} firms, {manifest['firm_years']:,} firm-years, "
        f"{manifest['applicants']:,} applicants to [bold]{plain(out)}[/bold] in {manifest['seconds']} s"
    )


@app.command()
def ingest(
    source: Annotated[
        Path, typer.Argument(help="Panel or round directory (firms, financials[, applications, audits]).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory for Parquet tables and quarantine.csv.")],
    round_mode: Annotated[bool, typer.Option("--round", help="Require applications (an application round).")] = False,
    amount_unit: Annotated[
        AmountUnitChoice | None, typer.Option("--amount-unit", help="Unit of amounts (default: params.yaml).")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Validate input files; every row is accepted or quarantined with a reason."""
    from jumpup.intake.ingest import ingest_directory, write_outputs
    from jumpup.intake.readers import InputFileError

    settings = _settings(params, {"ingest": {"amount_unit": amount_unit.value}} if amount_unit else None)
    started = time.perf_counter()
    report = _step(
        f"ingest {plain(source)}",
        lambda: write_outputs(ingest_directory(source, settings.ingest, round_mode=round_mode), out, started),
        (InputFileError,),
    )
    print_ingest_summary(report, out)
    console.print(f"quarantine: {plain(out / 'quarantine.csv')}")


@import_app.command("dart-bulk")
def import_dart_bulk(
    source: Annotated[Path, typer.Argument(help="Folder of DART 재무정보 일괄다운로드 .txt files.")],
    out: Annotated[Path, typer.Option("--out", help="Panel directory to write (firms.csv, financials.csv).")],
    statements: Annotated[
        StatementChoice, typer.Option("--statements", help="Which statements to read.")
    ] = StatementChoice.prefer_consolidated,
) -> None:
    """Import DART bulk-download statements into the panel format, quarantining unreadable lines."""
    from jumpup.intake.dart_bulk import import_dart_bulk as run_import

    report = _step(
        f"import {plain(source)}", lambda: run_import(source, out, statements.value), (FileNotFoundError, ValueError)
    )
    table = console_table(
        f"DART bulk import → {plain(out)}",
        ("file", "lines read", "usable", "quarantined"),
        right=("lines read", "usable", "quarantined"),
    )
    for f in report["files"]:
        table.add_row(f["file"], f"{f['lines_read']:,}", f"{f['lines_usable']:,}", f"{f['lines_quarantined']:,}")
    console.print(table)
    console.print(
        f"{report['firms']:,} firms, {report['firm_years']:,} firm-years with revenue, fiscal years "
        f"{report['fiscal_years'][0]}–{report['fiscal_years'][1]}; "
        f"{report['firm_years_filled_from_prior_year_columns']:,} firm-years filled from prior-year columns"
    )
    if report["quarantined_lines_by_rule"]:
        console.print(
            "quarantined lines: " + ", ".join(f"{k} {v}" for k, v in report["quarantined_lines_by_rule"].items())
        )
    if report["firms_not_krw"]:
        console.print(f"[yellow]left out (amounts not in KRW):[/yellow] {plain(', '.join(report['firms_not_krw']))}")
    if report["firm_years_without_revenue"]:
        console.print(
            f"[yellow]{len(report['firm_years_without_revenue'])} firm-years have no line that maps to "
            f"revenue[/yellow] (listed in import_report.json)"
        )
    for change in report.get("fiscal_year_end_changes", []):
        console.print(
            f"[yellow]fiscal year end changed:[/yellow] {change['firm_id']} month {change['from_month']} → "
            f"{change['to_month']}; {change['months']}-month period {change['transition_period']} set aside"
        )
    if report.get("element_name_conflicts"):
        console.print(
            f"[yellow]{len(report['element_name_conflicts'])} line(s) whose element id contradicts the line "
            f"name were read by name[/yellow] (listed in import_report.json)"
        )
    if report.get("lines_superseded_by_rule"):
        console.print("set aside: " + ", ".join(f"{k} {v}" for k, v in report["lines_superseded_by_rule"].items()))
    for item in report["unreadable_files"]:
        console.print("[red]unreadable file:[/red] " + plain(f"{item['file']}: {item['reason']}"))
    console.print(
        f"report: {plain(out / 'import_report.json')}; quarantine: {plain(out / 'quarantine.csv')}; "
        f"set aside: {plain(out / 'superseded.csv')}"
    )


@import_app.command("ts2000")
def import_ts2000(
    source: Annotated[Path, typer.Argument(help="Folder of TS-2000 exports (income/, cashflow_audit/, ratios/).")],
    out: Annotated[Path, typer.Option("--out", help="Panel directory to write (firms.csv, financials.csv).")],
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Import TS-2000 exports of audited firms (외감) into the panel format, one accounting basis per firm."""
    from jumpup.intake.ts2000 import Ts2000Error
    from jumpup.intake.ts2000 import import_ts2000 as run_import

    settings = _settings(params)
    manifest = _step(
        f"import {plain(source)}",
        lambda: run_import(
            source,
            out,
            settings.sources.ts2000_basis_precedence,
            settings.ingest.max_fiscal_year,
            settings.ingest.min_fiscal_year,
        ),
        (Ts2000Error, FileNotFoundError),
    )
    table = console_table(
        f"TS-2000 import → {plain(out)}",
        ("file", "rows read", "accepted", "quarantined"),
        right=("rows read", "accepted", "quarantined"),
    )
    for f in manifest["files"]:
        table.add_row(f["file"], f"{f['rows_read']:,}", f"{f['rows_accepted']:,}", f"{f['rows_quarantined']:,}")
    console.print(table)
    console.print(
        f"{manifest['firms']:,} firms, {manifest['firm_years']:,} firm-years, fiscal years "
        f"{'–'.join(map(str, manifest['fiscal_years']))}; bases: {manifest['firms_by_basis']}"
    )
    if manifest["quarantined_by_rule"]:
        console.print("quarantined rows: " + ", ".join(f"{k} {v}" for k, v in manifest["quarantined_by_rule"].items()))
    for warning in manifest["warnings"]:
        console.print(f"[yellow]{plain(warning)}[/yellow]")
    console.print(f"manifest: {plain(out / 'manifest.json')}; quarantine: {plain(out / 'quarantine.csv')}")


def _print_source_manifest(manifest: dict, out: Path) -> None:
    console.print(
        f"{manifest['file']}: {manifest['rows_read']:,} rows read, {manifest['rows_accepted']:,} accepted, "
        f"{manifest['rows_quarantined']:,} quarantined; {manifest['firms']:,} firms, fiscal years "
        f"{'–'.join(map(str, manifest['fiscal_years']))}; units {manifest['units']}"
    )
    if manifest["quarantined_by_rule"]:
        console.print("quarantined rows: " + ", ".join(f"{k} {v}" for k, v in manifest["quarantined_by_rule"].items()))
    console.print(f"manifest: {plain(out / 'manifest.json')}; quarantine: {plain(out / 'quarantine.csv')}")


@import_app.command("fnguide")
def import_fnguide(
    source: Annotated[Path, typer.Argument(help="FnGuide statements CSV (code, year, Korean item names in 억원).")],
    out: Annotated[Path, typer.Option("--out", help="Source directory to write (financials.csv, provenance).")],
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Import FnGuide statements (억원) with R&D and personnel cost, amounts converted to won."""
    from jumpup.intake.sources import SourceError, import_itemised

    settings = _settings(params)
    manifest = _step(
        f"import {plain(source)}",
        lambda: import_itemised(source, out, "fnguide", settings.ingest.max_fiscal_year),
        (SourceError,),
    )
    _print_source_manifest(manifest, out)


@import_app.command("dart-employees")
def import_dart_employees(
    source: Annotated[Path, typer.Argument(help="DART 직원현황 CSV (stockCode, year, employees, payroll_krw).")],
    out: Annotated[Path, typer.Option("--out", help="Source directory to write (financials.csv, provenance).")],
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Import DART employee status: headcount, payroll and average pay per firm and year."""
    from jumpup.intake.sources import SourceError, import_itemised

    settings = _settings(params)
    manifest = _step(
        f"import {plain(source)}",
        lambda: import_itemised(source, out, "dart_employees", settings.ingest.max_fiscal_year),
        (SourceError,),
    )
    _print_source_manifest(manifest, out)


@import_app.command("combine")
def import_combine(
    base: Annotated[Path, typer.Argument(help="Base panel directory (firms.csv, financials.csv).")],
    add: Annotated[list[str], typer.Option("--add", help="NAME=DIR of an imported source; repeatable.")],
    out: Annotated[Path, typer.Option("--out", help="Combined panel directory to write.")],
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Combine a panel with imported sources: declared precedence per field, provenance, conflict report."""
    from jumpup.intake.sources import SourceError, combine_panels

    settings = _settings(params)
    additions = {}
    for item in add:
        name, sep, directory = item.partition("=")
        if not sep or not name or not directory:
            _fail(f"--add must be NAME=DIR, got {item!r}")
        additions[name.strip()] = Path(directory)
    manifest = _step(
        f"combine {base}",
        lambda: combine_panels(base, additions, out, settings.sources.precedence, settings.sources.conflict_tolerance),
        (SourceError,),
    )
    console.print(
        f"{manifest['firms']:,} firms, {manifest['firm_years']:,} firm-years; values by source "
        f"{manifest['values_by_source']}; {manifest['conflicts']:,} conflicts beyond "
        f"{manifest['conflict_tolerance']:.0%} (conflicts.csv)"
    )


@app.command("evaluate-families")
def evaluate_families(
    panel: Annotated[Path, typer.Option("--panel", help="Panel directory (e.g. from `jumpup import combine`).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for families.json and predictions.csv.")],
    origin: Annotated[int, typer.Option("--origin", help="Feature year; the outcome is origin + horizon.")] = 2018,
    family: Annotated[
        list[str] | None, typer.Option("--family", help="Family to ablate; repeatable (default technology, human).")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Firm-grouped CV with and without the technology and human-efficiency families, paired AUC differences."""
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines.evaluate_families import run

    settings = _settings(params)
    families = tuple(family or ("technology", "human"))
    result = _step(
        f"evaluate families {', '.join(families)} at origin {origin}",
        lambda: run(panel, out, settings, origin, families),
        (InputFileError, ValueError, FileNotFoundError),
    )
    table = console_table(
        f"{result['folds']}-fold firm-grouped CV, origin {origin} → {origin + result['horizon']}: "
        f"{result['firms']:,} firms, event rate {result['event_rate']:.3f}",
        ("model", "pooled AUC", "95% CI"),
        right=("pooled AUC", "95% CI"),
    )
    for name, auc in result["pooled"].items():
        table.add_row(name, f"{auc['value']:.3f}", f"{auc['ci_low']:.3f}–{auc['ci_high']:.3f}")
    console.print(table)
    for name, d in result["difference"].items():
        console.print(f"{name}: {d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    console.print(f"MLflow run {result['mlflow_run_id']}; results: {plain(out / 'families.json')}")


@app.command("evaluate-ts2000")
def evaluate_ts2000(
    panel: Annotated[Path, typer.Option("--panel", help="Panel written by `jumpup import ts2000`.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for evaluation.json and predictions.csv.")],
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap draws for the intervals.")] = 500,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Out-of-time evaluation on TS-2000 firms held out of fitting (fit origins ≤ 2016, test origin 2019)."""
    from jumpup.pipelines.evaluate_ts2000 import run

    settings = _settings(params)
    if bootstrap < 10:
        _fail(f"--bootstrap must be at least 10, got {bootstrap}")
    results = _step(
        f"evaluate {plain(panel)}", lambda: run(panel, out, settings, bootstrap), (FileNotFoundError, ValueError)
    )
    table = console_table(
        f"TS-2000 out of time: {results['test_rows']:,} held-out firms at origin 2019",
        ("model", "AUC", "95% CI"),
        right=("AUC", "95% CI"),
    )
    for name in (
        "graded",
        "full_lgbm",
        "scorecard_full",
        "plain_lgbm",
        "plain_lgbm_default",
        "logistic",
        "past_growth",
    ):
        entry = results["auc"][name]
        table.add_row(name, f"{entry['auc']:.3f}", f"{entry['ci_low']:.3f}–{entry['ci_high']:.3f}")
    console.print(table)
    for key, label in (("graded_minus_plain_lgbm", "graded"), ("full_lgbm_minus_plain_lgbm", "full LightGBM")):
        diff = results["auc"][key]
        console.print(
            f"{label} − plain LightGBM: {diff['difference']:+.3f} ({diff['ci_low']:+.3f} to {diff['ci_high']:+.3f})"
        )
    q = results["growth_quantiles"]
    console.print(
        f"growth quantiles: pinball ratio vs pooled {q['pinball_ratio']:.3f} "
        f"({q['pinball_ratio_ci'][0]:.3f}–{q['pinball_ratio_ci'][1]:.3f}); coverage 50% "
        f"{q['coverage']['model_50']:.3f}, 80% {q['coverage']['model_80']:.3f}"
    )
    e = results["growth_engine"]
    console.print(
        f"growth-path engine ({e['method']}, horizon {e['horizon']}): pinball ratio vs pooled "
        f"{e['pinball_ratio']:.3f} ({e['pinball_ratio_ci'][0]:.3f}–{e['pinball_ratio_ci'][1]:.3f}); "
        f"coverage 50% {e['coverage_50']:.3f}, 80% {e['coverage_80']:.3f} ({e['n']:,} firms)"
    )
    _panel_quarantine(results["rows_quarantined"], out)
    console.print(f"wrote {plain(out / 'evaluation.json')}; MLflow run {results['mlflow_run_id']}")


@app.command()
def features(
    panel: Annotated[Path, typer.Option("--panel", help="Panel directory (firms, financials).")],
    out: Annotated[Path, typer.Option("--out", help="Feature table to write (.parquet).")],
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Saved reference directory (from --save-reference; default: fit on --panel)."),
    ] = None,
    save_reference: Annotated[
        Path | None, typer.Option("--save-reference", help="Save the fitted reference as a directory of data files.")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Build indicators, size classes, focus fields and peer comparisons for every firm-year."""
    from jumpup.intake.readers import InputFileError
    from jumpup.models.bundle_store import BundleError
    from jumpup.pipelines import features_stage

    settings = _settings(params)
    manifest = _step(
        f"features {plain(panel)}",
        lambda: features_stage.run(panel, out, settings, reference, save_reference),
        (InputFileError, BundleError),
    )
    console.print(
        f"wrote {manifest['firm_years']:,} firm-years to [bold]{plain(out)}[/bold] in {manifest['seconds']} s "
        f"(schema, manifest and quarantine beside it); infinite values: {manifest['infinite_values']}"
    )
    quarantined = sum(manifest["rows_quarantined"].values())
    if quarantined:
        console.print(
            f"[yellow]{quarantined} input rows quarantined[/yellow] (see {plain(out.with_suffix(''))}.quarantine.csv)"
        )


@app.command()
def train(
    panel: Annotated[Path, typer.Option("--panel", help="Training panel directory.")],
    horizon: Annotated[int | None, typer.Option("--horizon", help="Years ahead (default: params.yaml).")] = None,
    target: Annotated[Target | None, typer.Option("--target", help="Outcome to model (default: params.yaml).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the bundle and validation report go.")] = Path(
        "data/models"
    ),
    register: Annotated[bool, typer.Option("--register/--no-register", help="Register in the MLflow registry.")] = True,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Train the graded growth model, validate it and track the run in MLflow."""
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines.train import train_panel

    named = {"horizon": horizon, "name": target.value if target else None}
    if target is not None and target.value == "crisis":
        _train_crisis(panel, out, register, _settings(params, {"crisis": {"horizon": horizon}} if horizon else None))
        return
    overrides = {"targets": {k: v for k, v in named.items() if v is not None}}
    settings = _settings(params, overrides)
    summary = _step(
        f"train {settings.targets.name} h={settings.targets.horizon}",
        lambda: train_panel(panel, out, settings, register=register),
        (InputFileError, ValueError),
    )
    m = summary["metrics"]
    console.print(f"run id    : [bold]{summary['run_id']}[/bold]")
    console.print(
        f"model URI : [bold]{plain(summary['model_uri'])}[/bold]"
        + (f" (alias {summary['alias']})" if summary["alias"] else "")
    )
    for split in ("train", "out_of_sample", "out_of_time"):
        if f"{split}.auc" in m:
            console.print(
                f"{split:<14} AUC {m[split + '.auc']:.3f} "
                f"[{m[split + '.auc_ci_low']:.3f}, {m[split + '.auc_ci_high']:.3f}]"
                f"  scorecard {m[split + '.scorecard_auc']:.3f}  past growth {m[split + '.baseline_auc']:.3f}"
                f"  grade inversions {m[split + '.grade_inversions']}"
            )
    console.print(f"validation report: {plain(out / 'validation_report.html')}")


def _train_crisis(panel: Path, out: Path, register: bool, settings) -> None:
    """``train --target crisis``: the early-warning model (pipelines/train_crisis.py)."""
    from jumpup.pipelines.train_crisis import run

    summary = _step(
        f"train crisis h={settings.crisis.horizon}", lambda: run(panel, out, settings, register), (ValueError,)
    )
    console.print(f"run id    : [bold]{summary['run_id']}[/bold]")
    console.print(f"model URI : [bold]{plain(summary['model_uri'])}[/bold]")
    evaluation = summary["evaluation"]
    console.print(
        f"held-out firms, origin {evaluation['origin']} (outcome {evaluation['outcome_years'][0]}-"
        f"{evaluation['outcome_years'][1]}): {evaluation['rows']:,} firms, crisis rate {evaluation['base_rate']:.3f}"
    )
    for name, entry in evaluation["auc"].items():
        value = entry.get("auc", entry.get("difference"))
        console.print(f"  {name:<40} {value:+.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]")
    console.print(f"realised rates monotone across grades: {evaluation['monotone']['monotone']}")
    _panel_quarantine(summary["rows_quarantined"], out)
    console.print(f"validation report: {plain(out / 'validation_report.html')} (figures: validation_report.json)")


MonitorEngine = _choices("MonitorEngine", ("pandas", "spark"))


@app.command()
def monitor(
    panel: Annotated[Path, typer.Option("--panel", help="Imported panel (firms.csv, financials.csv).")],
    as_of: Annotated[int, typer.Option("--as-of", help="Fiscal year to monitor (compared with the year before).")],
    out: Annotated[Path, typer.Option("--out", help="Where the tables, report and workbook go.")],
    model: Annotated[
        str | None, typer.Option("--model", help="Crisis model URI (default: newest registered version).")
    ] = None,
    engine: Annotated[MonitorEngine, typer.Option("--engine", help="Scoring engine.")] = MonitorEngine.pandas,
    spark_master: Annotated[str, typer.Option("--spark-master", help="Spark master for --engine spark.")] = "local[*]",
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Crisis-sign monitoring (위기징후): per-firm early-warning grades, migration, groups, report."""
    from jumpup.monitor.engines import EngineError
    from jumpup.pipelines.monitor import run

    settings = _settings(params)
    manifest = _step(
        f"monitor {as_of} ({engine.value})",
        lambda: run(panel, as_of, out, settings, model, engine.value, spark_master),
        (ValueError, EngineError),
    )
    counts = manifest["counts"]
    console.print(f"model     : {plain(manifest['model_version'])}")
    console.print(
        f"firms {counts['firms_scored']:,}: flagged {counts['firms_flagged']:,}, newly flagged "
        f"{counts['firms_newly_flagged']:,}, not scored a year before {counts['firms_without_previous']:,}"
    )
    console.print(
        f"already in crisis {counts['firms_in_crisis']:,} (coverage below threshold "
        f"{counts['firms_in_crisis_coverage']:,}, opinion {counts['firms_in_crisis_opinion']:,}): "
        f"not scored, listed in {plain(out / 'in_crisis.csv')}"
    )
    _panel_quarantine(counts["rows_quarantined"], out)
    for warning in manifest.get("report", {}).get("warnings", []):
        console.print(f"[yellow]{plain(warning)}[/yellow]")
    console.print(f"report: {plain(out / 'monitor_report.html')}  workbook: {plain(out / 'monitor.xlsx')}")


@app.command()
def score(
    panel: Annotated[Path, typer.Option("--panel", help="Panel directory to score.")],
    as_of: Annotated[int, typer.Option("--as-of", help="Fiscal year scored; later rows are ignored.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory for scores.csv.")],
    model: Annotated[
        str, typer.Option("--model", help="MLflow model URI or bundle directory (pickles are refused).")
    ] = CHAMPION_URI,
    language: Annotated[Language, typer.Option("--language", help="Reason wording.")] = Language.ko,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Score every firm of a panel as of one fiscal year: probability, points, grade and reasons."""
    from jumpup.intake.readers import InputFileError
    from jumpup.models.bundle_store import BundleError
    from jumpup.pipelines.score import ModelNotFoundError, score_panel

    settings = _settings(params)
    manifest = _step(
        f"score {plain(panel)} as of {as_of}",
        lambda: score_panel(panel, as_of, model, out, settings, language.value),
        (InputFileError, ModelNotFoundError, BundleError),
    )
    console.print(
        f"scored {manifest['firms_scored']:,} firms as of {as_of} → {plain(out / 'scores.csv')} "
        f"(model {plain(manifest.get('model_version', manifest['model']))})"
    )
    _print_skipped(manifest["firms_read"], manifest["firms_scored"], manifest["firms_skipped"], out / "skipped.csv")
    _print_quarantined(manifest["rows_quarantined"], out / "quarantine.csv")
    console.print("grades: " + ", ".join(f"{k} {v}" for k, v in manifest["grades"].items()))
    for warning in manifest.get("warnings", []):
        print_warning(warning)


PromoteTarget = _choices("PromoteTarget", ("growth", "crisis"))


@app.command()
def promote(
    version: Annotated[str | None, typer.Option("--version", help="Model version (default: the challenger).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even when a gate fails (logged as forced).")] = False,
    target: Annotated[
        PromoteTarget, typer.Option("--target", help="growth: the graded model; crisis: the early-warning model.")
    ] = PromoteTarget.growth,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Move the champion alias to a candidate that passes the promotion gates; log the decision."""
    from jumpup.pipelines import promote as promotion

    settings = _settings(params)
    record = _step(
        f"promote {target.value}",
        lambda: promotion.promote(version, settings, force=force, target=target.value),
        (promotion.PromotionError,),
    )
    for gate in record["gates"]:
        mark = "[green]pass[/green]" if gate["passed"] else "[red]fail[/red]"
        console.print(
            f"{gate['gate']:<26} {mark}  "
            + ", ".join(f"{k}={v}" for k, v in gate.items() if k not in ("gate", "passed"))
        )
    console.print(
        f"decision: [bold]{record['decision']}[/bold]; champion is version {record['champion_after']} "
        f"(log: {plain(record['log'])})"
    )


@app.command("cross-validate")
def cross_validate(
    panel: Annotated[Path, typer.Option("--panel", help="Panel directory.")],
    origin: Annotated[int, typer.Option("--origin", help="Feature year; the outcome is origin + horizon.")],
    horizon: Annotated[int | None, typer.Option("--horizon", help="Years ahead (default: params.yaml).")] = None,
    target: Annotated[Target | None, typer.Option("--target", help="Outcome to model (default: params.yaml).")] = None,
    repeats: Annotated[
        int | None,
        typer.Option("--repeats", min=1, help="Splits to run; repeats after the first reshuffle firms into new folds."),
    ] = None,
    learning_curve: Annotated[
        bool,
        typer.Option(
            "--learning-curve",
            help="Also cut each training fold to validation.learning_curve_fractions of its firms.",
        ),
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the result as JSON here.")] = None,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write the out-of-fold predictions as CSV here.")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Firm-grouped K-fold CV at one origin, tuning nested in each fold: LightGBM vs scorecard vs past growth.

    The pooled AUC ranks every firm's out-of-fold prediction together (firms scored by different
    fold models are compared, as one grade scale compares every applicant); the mean of per-fold
    AUCs is shown beside it.
    """
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines.train import cross_validate_panel
    from jumpup.provenance import write_json

    named = {"horizon": horizon, "name": target.value if target else None}
    overrides = {"targets": {k: v for k, v in named.items() if v is not None}}
    settings = _settings(params, overrides)
    cv = _step(
        f"cross-validate {settings.targets.name} h={settings.targets.horizon}, origin {origin}",
        lambda: cross_validate_panel(panel, origin, settings, repeats, learning_curve=learning_curve),
        (InputFileError, ValueError),
    )
    result = cv.summary
    table = console_table(
        f"{settings.validation.cv_folds}-fold firm-grouped CV of {settings.targets.name}, origin {origin}, "
        f"{result['firms']} firms, event rate {result['event_rate']:.3f}",
        ("model", "pooled AUC", "95% CI", "Gini", "KS", "fold AUC mean ± sd", "fold range"),
    )
    for name, metrics in result["pooled"].items():
        auc = metrics["auc"]
        spread = result["fold_auc"].get(name)
        table.add_row(
            name,
            f"{auc['value']:.3f}",
            f"[{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]",
            f"{metrics['gini']['value']:.3f}",
            f"{metrics['ks']['value']:.3f}",
            f"{spread['mean']:.3f} ± {spread['sd']:.3f}" if spread else "—",
            f"{spread['min']:.3f}–{spread['max']:.3f}" if spread else "—",
        )
    console.print(table)
    for other, d in result["lightgbm_minus"].items():
        console.print(f"LightGBM − {other}: {d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    if "repeats" in result:
        spread = result["repeats"]["pooled_auc"]
        console.print(
            f"pooled AUC over {len(result['repeats']['per_repeat'])} splits: "
            + "; ".join(f"{n} mean {s['mean']:.3f} (range {s['min']:.3f}–{s['max']:.3f})" for n, s in spread.items())
        )
    if learning_curve:
        curve = console_table(
            "Learning curve: same test folds, training folds cut to a share of their firms",
            ("share", "training firms per fold", "LightGBM pooled AUC", "95% CI", "scorecard", "LightGBM fold mean"),
        )
        for row in result["learning_curve"]:
            auc = row["pooled"]["lightgbm"]
            curve.add_row(
                f"{row['fraction']:.0%}",
                "–".join(f"{n:,}" for n in sorted({min(row["training_firms"]), max(row["training_firms"])})),
                f"{auc['value']:.3f}",
                f"[{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]",
                f"{row['pooled']['scorecard']['value']:.3f}",
                f"{row['fold_auc']['lightgbm']['mean']:.3f}",
            )
        console.print(curve)
    console.print(f"MLflow run {result['run_id']}; data {result['data_sha256'][:12]}, code {result['code_version']}")
    if out:
        write_json(out, result)
    if predictions:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        cv.predictions.to_csv(predictions, index=False)


@app.command()
def step1(
    scores: Annotated[Path, typer.Option("--scores", help="scores.csv from `jumpup score`.")],
    round_dir: Annotated[
        Path,
        typer.Option("--round", help="Round directory: raw files, or the output of `jumpup ingest --round`."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    log: Annotated[
        Path | None, typer.Option("--log", help="Decision log (default: paths.decision_log, else in --out).")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """STEP 1 decisions against the reference grade, audit-quality report, what-if table and STEP 2 dossiers."""
    from jumpup.intake.ingest import open_panel
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines import step1 as step1_stage

    settings = _settings(params)
    report = _step(
        "STEP 1",
        lambda: step1_stage.run(scores, open_panel(round_dir, settings.ingest, round_mode=True), out, settings, log),
        (InputFileError, ValueError),
    )
    counts = report["counts"]
    console.print(
        f"{counts['passed']:,} of {counts['applicants']:,} applicants pass STEP 1 at reference grade "
        f"{settings.grade_scale.reference_grade} → {plain(out / 'step1_decisions.csv')}"
    )
    share = report["recommendation_share"]
    console.print(
        f"recommended among passed: {share['recommended_passed']} ({share['share']:.0%}; planned "
        f"{share['range'][0]:.0%}-{share['range'][1]:.0%}: {share['status']})"
    )
    icc = report["icc_total"]
    console.print(
        f"inter-rater agreement ICC(1) {icc['icc1']:.2f}, ICC(1,k) {icc['icc1k']:.2f} over {icc['firms']} firms"
    )
    for warning in report["warnings"]:
        print_warning(warning)
    console.print(
        f"what-if: {plain(out / 'whatif.csv')} and whatif.svg; "
        f"dossiers: {plain(out / 'dossiers')} ({report['dossiers']})"
    )


@app.command("growth-path")
def growth_path(
    panel: Annotated[Path, typer.Option("--panel", help="Panel directory.")],
    as_of: Annotated[int, typer.Option("--as-of", help="Origin fiscal year; later rows are ignored.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write (peers and manifest beside it).")],
    horizon: Annotated[int | None, typer.Option("--horizon", help="Years ahead (default: params.yaml).")] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Peer-group growth paths: revenue quantiles for t+1..t+h and the probabilities of high growth,
    reaching the next size class and decline."""
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines.growth_paths import write_growth_paths

    settings = _settings(params, {"growth_paths": {"horizon": horizon}} if horizon else None)
    manifest = _step(
        f"growth paths as of {as_of}", lambda: write_growth_paths(panel, as_of, out, settings), (InputFileError,)
    )
    console.print(
        f"{manifest['firms']:,} firms × {settings.growth_paths.horizon} years → {plain(out)} "
        f"(nearest peers: {plain(out.with_suffix('.peers.csv'))}) in {manifest['seconds']} s"
    )
    _print_skipped(
        manifest["firms_read"],
        manifest["firms"],
        manifest["firms_skipped"],
        out.with_suffix(".skipped.csv"),
        "with a path",
    )
    _print_quarantined(manifest["rows_quarantined"], out.with_suffix(".quarantine.csv"))


@app.command("backtest-growth")
def backtest_growth(
    panel: Annotated[Path, typer.Option("--panel", help="Panel directory.")],
    out: Annotated[Path, typer.Option("--out", help="Metrics JSON (DVC metrics format).")] = Path(
        "data/growth/metrics.json"
    ),
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Rolling-origin backtest of the growth paths against two baselines; results to MLflow and DVC."""
    from jumpup.pipelines.growth_paths import backtest

    settings = _settings(params)
    summary = _step(f"backtest {plain(panel)}", lambda: backtest(panel, settings, out))
    table = console_table(
        f"growth-path backtest: origins {summary['origins'][0]}–{summary['origins'][-1]}, "
        f"horizons 1–{summary['horizon']}, {summary['rows']:,} forecasts",
        ("method", "80% coverage", "50% coverage", "pinball (log revenue)", "vs pooled history"),
    )
    for row in summary["methods"]:
        table.add_row(
            row["method"],
            f"{row['coverage_80']:.3f} [{row['coverage_80_ci_low']:.3f}, {row['coverage_80_ci_high']:.3f}]",
            f"{row['coverage_50']:.3f}",
            f"{row['pinball']:.4f} [{row['pinball_ci_low']:.4f}, {row['pinball_ci_high']:.4f}]",
            f"{row['pinball_vs_pooled_history']:+.1%} "
            f"[{row['pinball_ratio_ci_low'] - 1:+.1%}, {row['pinball_ratio_ci_high'] - 1:+.1%}]",
        )
    console.print(table)
    console.print(f"MLflow run {summary.get('run_id')}; metrics {plain(out)}")


@app.command("round")
def score_round(
    round_dir: Annotated[Path, typer.Argument(help="Application round directory.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    model: Annotated[
        str, typer.Option("--model", help="MLflow model URI or bundle directory (pickles are refused).")
    ] = CHAMPION_URI,
    reports_on: Annotated[
        bool, typer.Option("--reports/--no-reports", help="Write per-firm reports (HTML and PDF).")
    ] = True,
    workbook: Annotated[
        bool, typer.Option("--workbook/--no-workbook", help="Write the Excel workbook for evaluators.")
    ] = True,
    language: Annotated[Language, typer.Option("--language", help="Report language.")] = Language.ko,
    log: Annotated[
        Path | None, typer.Option("--log", help="Decision log (default: paths.decision_log, else in --out).")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Score a whole application round: ingest, features, grades, growth paths, STEP 1 and reports."""
    try:
        from jumpup.intake.readers import InputFileError
        from jumpup.pipelines.branches import SideProcessError
        from jumpup.pipelines.round import STAGES, has_finished_stage, run_round
    except KeyboardInterrupt:
        error_console.print("[yellow]interrupted[/yellow]: nothing was written")
        raise typer.Exit(130) from None

    settings = _settings(params)
    try:
        with progress_bar() as progress:
            task = progress.add_task("round", total=len(STAGES))

            def advance(stage: str) -> None:
                progress.update(task, description=stage)
                if stage != "ingest":
                    progress.advance(task)

            manifest = run_round(
                round_dir, out, settings, model, reports_on, language.value, advance, log, with_workbook=workbook
            )
            progress.update(task, completed=len(STAGES), description="done")
    except OSError as exc:
        _fail(_os_error(exc))
    except (InputFileError, ValueError, OutputLocked, SideProcessError) as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, RuntimeError) as exc:
        # Python 3.11 reports a Ctrl-C that lands while a class is being created (inside an import,
        # e.g. MLflow's) as a RuntimeError caused by it: the same interruption.
        if not interrupted(exc):
            raise
        left = (
            f"{plain(out)} is incomplete (no manifest.json); run the same command again to resume "
            "from its finished stages"
            if has_finished_stage(out)
            else "no stage had finished, and nothing this run wrote was kept"
            if out.exists()
            else "nothing was written"
        )
        error_console.print(f"[yellow]interrupted[/yellow]: {left}")
        raise typer.Exit(130) from None
    counts = manifest["counts"]
    console.print(
        f"{counts['applicants']:,} applicants, {counts['passed']:,} pass STEP 1 "
        f"(model {plain(_model_en(manifest['model']))}); outputs in [bold]{plain(out)}[/bold]"
    )
    if manifest["resumed_stages"]:
        console.print(
            f"resumed: {', '.join(s.replace('_', ' ') for s in manifest['resumed_stages'])} loaded from an "
            f"earlier run on the same inputs ({plain(out / '.stages')}); their times below are the loading"
        )
    width = max(map(len, manifest["timings_seconds"]), default=0)
    for stage, seconds in manifest["timings_seconds"].items():
        console.print(f"  {plain(stage):<{width}} {seconds:7.1f} s")
    for warning in manifest["warnings"]:
        print_warning(warning)
    if reports_on:
        console.print(
            f"reports: {plain(out / 'reports' / 'round_summary.html')} "
            f"(operator index: {plain(out / 'operator' / 'index.html')})"
        )


@app.command("step2")
def step2_selection(
    round_out: Annotated[Path, typer.Argument(help="Output directory of `jumpup round`.")],
    evaluations: Annotated[
        Path,
        typer.Option(
            "--evaluations", help="STEP 2 evaluations (one score per firm, member and item, with the member's vote)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Cohort directory to write (read by `jumpup review`).")],
    evaluators: Annotated[
        Path | None,
        typer.Option("--evaluators", help="Evaluator registry (evaluator_id, affiliation) for conflict checks."),
    ] = None,
    overrides: Annotated[
        Path | None,
        typer.Option("--overrides", help="Overrides and appeals (firm_id, kind, decision, reason, author)."),
    ] = None,
    log: Annotated[
        Path | None, typer.Option("--log", help="Decision log (default: beside paths.decision_log, else in --out).")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="An earlier STEP 2 output of the round: show its decisions beside."),
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """STEP 2 committees, unanimous decisions, conflicts of interest, overrides and the final selection."""
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines import step2 as step2_stage

    settings = _settings(params)
    manifest = _step(
        "STEP 2",
        lambda: step2_stage.run_step2(round_out, evaluations, out, settings, evaluators, overrides, log, previous),
        (InputFileError, ValueError),
    )
    counts, share = manifest["counts"], manifest["recommendation_share"]
    console.print(
        f"{counts['passed_step1']} firms passed STEP 1: {counts['unanimous_select']} unanimous select, "
        f"{counts['unanimous_reject']} unanimous reject, {counts['split']} split, {counts['overrides']} override(s), "
        f"{counts['re_evaluated_changes']} changed since the earlier run"
    )
    console.print(
        f"final selection: {counts['selected']} (cap {settings.step2.cohort_cap}, {counts['over_cap']} over the cap); "
        f"tracks: entry {manifest['tracks']['entry']}, growth {manifest['tracks']['growth']}"
    )
    shown = f"{share['share']:.0%}" if share["selected"] else "—"
    console.print(
        f"recommended in the final selection: {share['recommended_selected']} of {share['selected']} ({shown}; planned "
        f"{share['range'][0]:.0%}-{share['range'][1]:.0%}: {share['status']})"
    )
    for warning in manifest["warnings"]:
        print_warning(warning)
    console.print(
        f"cohort: {plain(out / 'selection.csv')}; record: {plain(out / 'step2_decisions.csv')}; "
        f"page: {plain(manifest['reports']['selection'])}; "
        f"quarantine: {plain(out / 'quarantine.csv')} ({counts['quarantined_rows']} rows)"
    )


@app.command("review")
def progress_review(
    cohort_dir: Annotated[Path, typer.Argument(help="Cohort directory written by `jumpup step2`.")],
    statements: Annotated[
        Path, typer.Option("--statements", help="New statements (firms, financials), raw or ingested.")
    ],
    year: Annotated[int, typer.Option("--year", help="Fiscal year reviewed.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    inputs: Annotated[
        Path | None, typer.Option("--inputs", help="Progress-review file (milestones, voucher spending).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model (default: the one that selected the cohort).")
    ] = None,
    log: Annotated[
        Path | None, typer.Option("--log", help="Decision log (default: beside paths.decision_log, else in --out).")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Yearly progress review: realised against forecast, continuation of the voucher, dashboard, monitoring."""
    from jumpup.intake.readers import InputFileError
    from jumpup.pipelines.review import run_review

    settings = _settings(params)
    manifest = _step(
        f"review {year}",
        lambda: run_review(cohort_dir, statements, year, out, settings, inputs, model, log_path=log),
        (InputFileError, ValueError),
    )
    counts, coverage = manifest["counts"], manifest["monitoring"]["band_coverage"]
    console.print(
        f"{counts['cohort']} firms, {counts['with_statements']} with {year} statements: {counts['continue']} continue, "
        f"{counts['drop']} dropped, {counts['completed']} completed; next year's vouchers "
        f"{manifest['next_year_vouchers_won'] / 1e8:,.1f}억 원"
    )
    if coverage["firms"]:
        low, high = coverage["coverage_80_ci"]
        console.print(
            f"forecast q10–q90 coverage {coverage['coverage_80']:.0%} [{low:.0%}, {high:.0%}] over {coverage['firms']} "
            f"firms (nominal 80%); bands: " + ", ".join(f"{k} {v}" for k, v in coverage["bands"].items())
        )
    for warning in manifest["warnings"]:
        print_warning(warning)
    console.print(
        f"decisions: {plain(out / 'continuation.csv')}; dropped: {plain(out / 'dropped.csv')}; dashboard: "
        f"{plain(manifest['reports']['dashboard'])}; MLflow run {manifest.get('mlflow_run_id')}"
    )


@app.command()
def demo(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where the synthetic inputs and outputs go. Default: data/demo in the project."),
    ] = None,
    firms: Annotated[
        int | None, typer.Option("--firms", help="Firms in the synthetic history. Default: params.yaml synth.firms.")
    ] = None,
    params: ParamsOption = DEFAULT_PARAMS_PATH,
) -> None:
    """Run everything that exists on a freshly generated synthetic round and say where outputs are."""
    from jumpup.pipelines.demo import run_demo

    settings = _settings(params, {"synth": {"firms": firms}} if firms else None)
    run_demo(settings, out, console, progress_bar)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
