"""Typed, frozen settings loaded from ``params.yaml``.

Every tunable number lives in ``params.yaml``; code reads it only through these models, so a
typo in a key fails loudly (``extra="forbid"``) instead of silently falling back to a default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARAMS_PATH = PROJECT_ROOT / "params.yaml"


class SettingsError(ValueError):
    """params.yaml is malformed: unknown key, wrong type or out-of-range value."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PathSettings(_Frozen):
    synthetic_dir: Path = Path("data/synthetic")
    ingested_dir: Path = Path("data/interim/history")
    round_ingested_dir: Path = Path("data/interim/round")
    reference_dir: Path = Path("data/reference")
    # STEP 1 decision log (append-only, one record per decided round): null = inside the run's --out;
    # a path makes it a shared store (relative paths are under the project root; keep it out of git)
    decision_log: Path | None = None

    def resolve(self, path: Path) -> Path:
        """Relative paths in params.yaml are relative to the project root, not the cwd."""
        return path if path.is_absolute() else PROJECT_ROOT / path


class TrackingSettings(_Frozen):
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_location: str = "mlruns/artifacts"
    experiment: str = "jumpup"


AmountUnit = Literal["auto", "won", "thousand_won", "million_won", "hundred_million_won"]


class IngestSettings(_Frozen):
    amount_unit: AmountUnit = "auto"
    balance_tolerance: float = Field(0.05, gt=0, lt=1)
    max_fiscal_year: int | None = None
    min_fiscal_year: int = 1950
    min_founded_year: int = 1800
    implausible_median_revenue_won: float = Field(1e8, ge=0)
    max_amount_won: float = Field(1e15, gt=0)
    max_employees: float = Field(1e6, gt=0)
    max_patents_granted: float = Field(1e5, gt=0)
    audit_score_min: float = 1
    audit_score_max: float = 5

    @model_validator(mode="after")
    def _score_range(self) -> IngestSettings:
        if self.audit_score_min >= self.audit_score_max:
            raise ValueError(
                f"audit_score_min must be below audit_score_max, got {self.audit_score_min} >= {self.audit_score_max}"
            )
        return self


class SynthSettings(_Frozen):
    firms: int = Field(2000, ge=1)
    applicants: int = Field(300, ge=1)
    years: int = Field(8, ge=4, le=40)
    last_fiscal_year: int = 2024
    log_revenue_mean: float = 24.67
    log_revenue_sd: float = Field(1.22, gt=0)
    industry_log_revenue_sd: float = Field(0.35, ge=0)
    growth_firm_mean: float = 0.045
    growth_firm_sd: float = Field(0.15, ge=0)
    growth_quality_weight: float = Field(0.8, ge=0, le=1)
    growth_size_effect: float = Field(0.05, ge=0)
    growth_shock_sd: float = Field(0.30, ge=0)
    growth_shock_df: float = Field(4, gt=2)
    growth_shock_ma: float = Field(0.25, ge=0, lt=1)
    operating_margin_mean: float = 0.045
    operating_margin_sd: float = Field(0.12, ge=0)
    margin_noise_sd: float = Field(0.06, ge=0)
    assets_to_revenue_log_mean: float = 0.39
    assets_to_revenue_log_sd: float = Field(0.65, ge=0)
    equity_ratio_alpha: float = Field(3.2, gt=0)
    equity_ratio_beta: float = Field(1.7, gt=0)
    revenue_per_employee_log_mean: float = 19.75
    revenue_per_employee_log_sd: float = Field(0.75, ge=0)
    wage_log_mean: float = 17.85
    wage_log_sd: float = Field(0.2, ge=0)
    rd_intensity_mean: float = Field(0.04, ge=0, lt=1)
    export_share_mean: float = Field(0.25, ge=0, lt=1)
    patent_rate_per_billion_rd: float = Field(0.6, ge=0)
    investment_probability: float = Field(0.06, ge=0, le=1)
    exit_base_hazard: float = Field(0.015, ge=0, lt=1)
    distress_equity_ratio: float = Field(0.1, ge=0, lt=1)
    audit_evaluators_per_firm: int = Field(3, ge=1)
    audit_evaluator_pool: int = Field(40, ge=1)
    recommended_share: float = Field(0.35, ge=0, le=1)
    missing_employees_share: float = Field(0.15, ge=0, le=1)


class WinsorLimits(_Frozen):
    growth: tuple[float, float] = (-0.95, 5.0)
    margin: tuple[float, float] = (-2.0, 1.0)
    return_on_balance: tuple[float, float] = (-2.0, 2.0)
    turnover: tuple[float, float] = (0.0, 20.0)
    intensity: tuple[float, float] = (0.0, 1.0)
    per_employee_won: tuple[float, float] = (0.0, 1e11)
    count: tuple[float, float] = (0.0, 1e4)
    share: tuple[float, float] = (0.0, 1.0)

    @model_validator(mode="after")
    def _ordered(self) -> WinsorLimits:
        for name, (low, high) in self:
            if low >= high:
                raise ValueError(f"winsor.{name}: lower limit must be below upper, got [{low}, {high}]")
        return self


class FeatureSettings(_Frozen):
    min_peer_group_size: int = Field(10, ge=1)
    employee_gap_max_years: int = Field(3, ge=1)
    industry_volatility_years: int = Field(5, ge=2)
    industry_volatility_min_years: int = Field(3, ge=2)
    marginal_firm_years: int = Field(3, ge=1)  # 한계기업: interest coverage < 1 this many years running
    winsor: WinsorLimits = WinsorLimits()


SizeClass = Literal["small", "medium", "midsize_candidate", "midsize"]


class SizeClassSettings(_Frozen):
    candidate_growth_rate: float = 0.15
    candidate_rd_intensity: float = 0.02
    assets_cap_eok: float = Field(5000, gt=0)
    average_years: int = Field(3, ge=1)


class SizeTableSettings(_Frozen):
    """An SME Act size table supplied by the operator (same CSV format as data/reference/sme_size_criteria_*.csv)."""

    file: Path
    valid_from: dt.date
    valid_to: dt.date | None = None
    source: str = "supplied by the operator"


class ProgramSettings(_Frozen):
    """Program eligibility: policy applied when a round runs, never frozen into a trained model.

    ``min_age_years``: full years from the founding date to the application date (source: the
    Jump-Up seed plan targets SMEs past the 7-year start-up stage, "7년 이후 중소기업").
    ``size_tables``: extra SME Act size tables for dates the shipped tables do not cover.
    """

    eligible_size_classes: tuple[SizeClass, ...] = ("medium", "midsize_candidate")
    min_age_years: int = Field(7, ge=0)
    require_focus_field: bool = False
    size_tables: tuple[SizeTableSettings, ...] = ()


TargetName = Literal["high_growth", "high_growth_employment", "size_upgrade", "distress", "crisis"]


class TargetSettings(_Frozen):
    name: TargetName = "high_growth"
    horizon: int = Field(3, ge=1, le=10)
    growth_threshold: float = 0.20
    min_start_employees: int = Field(10, ge=0)


class ModelSettings(_Frozen):
    n_estimators: int = Field(300, ge=1)
    learning_rate: float = Field(0.03, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(40, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    monotone: dict[str, Literal[-1, 1]] = Field(default_factory=dict)
    monotone_inputs: dict[str, Literal[-1, 1]] = Field(default_factory=dict)
    monotone_method: Literal["basic", "intermediate", "advanced"] = "basic"
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    calibration_share: float = Field(0.25, gt=0, lt=1)
    inner_folds: int = Field(3, ge=2)
    max_features: int = Field(25, ge=1)
    tuning_grid: dict[str, tuple[float | int, ...]] = Field(default_factory=dict)


class ScorecardSettings(_Frozen):
    bins: int = Field(5, ge=2, le=20)
    C: float = Field(0.5, gt=0)
    max_features: int = Field(15, ge=1)


class GradeScaleSettings(_Frozen):
    labels: tuple[str, ...] = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")
    probability_cutpoints: tuple[float, ...] = (0.60, 0.45, 0.34, 0.26, 0.20, 0.15, 0.11, 0.075, 0.045)
    base_points: float = 600
    base_odds: float = Field(0.25, gt=0)
    pdo: float = Field(40, gt=0)
    reference_grade: str = "BBB"

    @model_validator(mode="after")
    def _consistent(self) -> GradeScaleSettings:
        if len(self.labels) < 7:
            raise ValueError(f"a master scale needs at least 7 grades, got {len(self.labels)}")
        if len(self.probability_cutpoints) != len(self.labels) - 1:
            raise ValueError(
                f"probability_cutpoints needs {len(self.labels) - 1} values for {len(self.labels)} grades, "
                f"got {len(self.probability_cutpoints)}"
            )
        cuts = list(self.probability_cutpoints)
        if cuts != sorted(cuts, reverse=True) or len(set(cuts)) != len(cuts) or not all(0 < c < 1 for c in cuts):
            raise ValueError(f"probability_cutpoints must fall strictly inside (0, 1), high to low, got {cuts}")
        if self.reference_grade not in self.labels:
            raise ValueError(f"reference_grade {self.reference_grade!r} is not one of {list(self.labels)}")
        return self


class ReasonSettings(_Frozen):
    top_k: int = Field(3, ge=1, le=10)


class ValidationSettings(_Frozen):
    bootstrap: int = Field(200, ge=10)
    oot_years: int = Field(1, ge=0)  # 0: a panel with a single labelled origin has no out-of-time split
    oos_share: float = Field(0.2, gt=0, lt=1)
    psi_bins: int = Field(10, ge=2)
    alpha: float = Field(0.05, gt=0, lt=1)
    reliability_bins: int = Field(10, ge=2)
    cv_folds: int = Field(5, ge=2)
    cv_repeats: int = Field(1, ge=1)  # further repeats reshuffle firms into new folds
    learning_curve_fractions: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)

    @field_validator("learning_curve_fractions")
    @classmethod
    def _fractions_in_range(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0 < f <= 1 for f in value):
            raise ValueError(f"learning_curve_fractions must be shares in (0, 1], got {list(value)}")
        return value


class PromotionSettings(_Frozen):
    max_auc_drop: float = Field(0.0, ge=0)
    max_failed_grade_tests_share: float = Field(0.3, ge=0, le=1)
    max_grade_share: float = Field(0.35, gt=0, le=1)
    # Optional gates (None: not applied): realised rates monotone across grades (at most this many
    # inversions) and the lower bound of the paired 95% interval of AUC(model) - AUC(plain baseline).
    max_grade_inversions: int | None = Field(None, ge=0)
    min_baseline_gain_ci_low: float | None = None


class Step1Settings(_Frozen):
    ai_weight: float = Field(0.6, ge=0, le=1)
    audit_weight: float = Field(0.4, ge=0, le=1)
    audit_points_at_0: float = 480
    audit_points_at_100: float = 720
    recommendation_mode: Literal["bonus", "direct_pass", "none"] = "bonus"
    recommendation_bonus_points: float = Field(15, ge=0)
    recommendation_min_stage: str = "series_b"
    recommendation_investor_types: tuple[str, ...] = ("VC", "CVC", "PE")
    recommendation_share_range: tuple[float, float] = (0.3, 0.5)
    require_audit: bool = True
    hard_flags: tuple[Literal["distress", "negative_equity", "missing_latest_statements", "no_complete_audit"], ...] = (
        "distress",
        "negative_equity",
        "missing_latest_statements",
        "no_complete_audit",
    )
    whatif_audit_weights: tuple[float, ...] = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)
    leniency_z: float = Field(2.0, gt=0)
    leniency_min_deviation: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _weights(self) -> Step1Settings:
        if abs(self.ai_weight + self.audit_weight - 1) > 1e-9:
            raise ValueError(f"ai_weight + audit_weight must be 1, got {self.ai_weight} + {self.audit_weight}")
        low, high = self.recommendation_share_range
        if not 0 <= low <= high <= 1:
            raise ValueError(f"recommendation_share_range must satisfy 0 <= low <= high <= 1, got {[low, high]}")
        return self


class SourceSettings(_Frozen):
    """Outside sources (TS-2000, FnGuide, DART headcount): basis choice and combining rules."""

    # TS-2000: when two accounting bases cover a firm's years equally, the first listed wins.
    ts2000_basis_precedence: tuple[Literal["kgaap", "ifrs", "ifrs_consolidated"], ...] = (
        "kgaap",
        "ifrs",
        "ifrs_consolidated",
    )
    # Combining sources: per panel field, the sources in order of precedence.
    precedence: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Two sources disagree when |a - b| / max(|a|, |b|) exceeds this.
    conflict_tolerance: float = Field(0.05, gt=0, lt=1)


class GrowthPathSettings(_Frozen):
    horizon: int = Field(3, ge=1, le=10)
    neighbours: int = Field(60, ge=5)
    min_peers: int = Field(30, ge=5)
    quantiles: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
    high_growth_rate: float = 0.20
    weights: dict[str, float] = Field(default_factory=lambda: {"log_revenue": 2.0, "revenue_growth_1y": 1.0})
    method: Literal["peers", "pooled", "blend", "auto"] = "auto"
    recalibration_min_rows: int = Field(200, ge=10)
    pooled_estimators: int = Field(150, ge=10)
    pooled_max_rows: int = Field(50000, ge=100)
    round_calibration_origins: int = Field(3, ge=1)
    calibration_max_firms: int | None = Field(20000, ge=100)
    workers: int = Field(2, ge=1)
    parallel_query_rows: int = Field(20000, ge=1)
    process_min_firms: int = Field(20000, ge=0)

    @model_validator(mode="after")
    def _quantiles(self) -> GrowthPathSettings:
        q = list(self.quantiles)
        if q != sorted(q) or not all(0 < v < 1 for v in q) or not {0.1, 0.25, 0.5, 0.75, 0.9} <= set(q):
            raise ValueError(f"quantiles must be increasing in (0, 1) and include 0.1, 0.25, 0.5, 0.75, 0.9, got {q}")
        return self


class Step2Settings(_Frozen):
    """STEP 2 (심층토론 평가) and the final selection; source: the program plan, STEP 2 section."""

    cohort_cap: int = Field(100, ge=1)  # 100개사 이내 선정
    score_min: float = 1
    score_max: float = 5
    min_committee_members: int = Field(3, ge=1)  # members left after conflicts are excluded
    recommendation_share_range: tuple[float, float] = (0.3, 0.5)  # of the final selection
    required_audit_roles: tuple[str, ...] = ("technology_expert", "growth_expert", "agency_examiner")

    @model_validator(mode="after")
    def _ranges(self) -> Step2Settings:
        if self.score_min >= self.score_max:
            raise ValueError(f"score_min must be below score_max, got {self.score_min} >= {self.score_max}")
        low, high = self.recommendation_share_range
        if not 0 <= low <= high <= 1:
            raise ValueError(f"recommendation_share_range must satisfy 0 <= low <= high <= 1, got {[low, high]}")
        return self


class ReviewSettings(_Frozen):
    """The yearly progress review and the open voucher (오픈바우처); source: the program plan, voucher section."""

    voucher_per_year_won: float = Field(250_000_000, gt=0)  # 매년 2.5억원
    max_program_years: int = Field(3, ge=1)  # 최대 3년
    max_total_voucher_won: float = Field(750_000_000, gt=0)  # 3년간 7.5억원
    min_milestone_share: float = Field(0.5, ge=0, le=1)  # milestones met / planned, below this: dropped
    min_voucher_use_share: float = Field(0.3, ge=0, le=1)  # voucher spent / granted, below this: dropped
    drop_on_distress: bool = True  # 관리종목 or capital impairment in the new statements
    high_growth_rate: float = 0.20  # realised one-year revenue growth counted as high growth


class CrisisModelSettings(_Frozen):
    n_estimators: int = Field(400, ge=1)
    learning_rate: float = Field(0.03, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(100, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)


class CrisisScaleSettings(_Frozen):
    """Early-warning scale (조기경보 등급): labels from the highest crisis probability to the lowest."""

    labels: tuple[str, ...] = ("severe", "alert", "caution", "watch", "normal")
    probability_cutpoints: tuple[float, ...] = (0.40, 0.20, 0.10, 0.05)
    base_points: float = 500
    base_odds: float = Field(0.05, gt=0)
    pdo: float = Field(40, gt=0)
    flag_grade: str = "alert"  # this grade or a riskier one is a flagged firm

    @model_validator(mode="after")
    def _consistent(self) -> CrisisScaleSettings:
        cuts = list(self.probability_cutpoints)
        if len(cuts) != len(self.labels) - 1:
            raise ValueError(f"probability_cutpoints needs {len(self.labels) - 1} values, got {len(cuts)}")
        if cuts != sorted(cuts, reverse=True) or len(set(cuts)) != len(cuts) or not all(0 < c < 1 for c in cuts):
            raise ValueError(f"probability_cutpoints must fall strictly inside (0, 1), high to low, got {cuts}")
        if self.flag_grade not in self.labels:
            raise ValueError(f"flag_grade {self.flag_grade!r} is not one of {list(self.labels)}")
        return self


class CrisisSettings(_Frozen):
    """위기징후 (crisis sign) target, its evaluation design and the early-warning model (issue 18)."""

    horizon: int = Field(3, ge=1, le=10)
    coverage_threshold: float = 1.0
    crisis_opinions: tuple[str, ...] = ("AG", "DS", "DU", "DI")
    fit_first_origin: int = 2013
    fit_last_origin: int = 2016
    test_origin: int = 2019
    test_share: float = Field(0.3, gt=0, lt=1)
    calibration_share: float = Field(0.25, gt=0, lt=1)
    calibration_folds: int = Field(4, ge=2)
    tuning_origins: int = Field(1, ge=1)
    bootstrap: int = Field(500, ge=10)
    registered_model: str = "jumpup-crisis"
    model: CrisisModelSettings = CrisisModelSettings()
    tuning_grid: dict[str, tuple[float | int, ...]] = Field(default_factory=dict)
    scale: CrisisScaleSettings = CrisisScaleSettings()
    top_k: int = Field(3, ge=1)
    min_group_size: int = Field(5, ge=2)
    promotion: PromotionSettings = PromotionSettings(max_grade_inversions=0, min_baseline_gain_ci_low=0.0)

    @model_validator(mode="after")
    def _origins(self) -> CrisisSettings:
        if not self.fit_first_origin <= self.fit_last_origin:
            raise ValueError("fit_first_origin must not be after fit_last_origin")
        if self.fit_last_origin + self.horizon > self.test_origin:
            raise ValueError(
                f"outcomes of the fit origins (to {self.fit_last_origin + self.horizon}) must end by the test origin "
                f"({self.test_origin})"
            )
        return self


class ReportSettings(_Frozen):
    pdf: bool = True
    pdf_tabs: int = Field(2, ge=1)
    browser_timeout_seconds: float = Field(120.0, gt=0)
    embed_font: bool = True
    # evaluator-facing tables and peer medians show groups of at least this many firms (peer privacy)
    min_group_size: int = Field(5, ge=2)
    # operator-only pages (the round index) are written beside the reports, never into evaluator packs
    operator_dir: str = "operator"


class Settings(_Frozen):
    seed: int = 20250901
    paths: PathSettings = PathSettings()
    tracking: TrackingSettings = TrackingSettings()
    ingest: IngestSettings = IngestSettings()
    synth: SynthSettings = SynthSettings()
    features: FeatureSettings = FeatureSettings()
    size_class: SizeClassSettings = SizeClassSettings()
    program: ProgramSettings = ProgramSettings()
    targets: TargetSettings = TargetSettings()
    model: ModelSettings = ModelSettings()
    scorecard: ScorecardSettings = ScorecardSettings()
    grade_scale: GradeScaleSettings = GradeScaleSettings()
    reasons: ReasonSettings = ReasonSettings()
    validation: ValidationSettings = ValidationSettings()
    promotion: PromotionSettings = PromotionSettings()
    step1: Step1Settings = Step1Settings()
    growth_paths: GrowthPathSettings = GrowthPathSettings()
    sources: SourceSettings = SourceSettings()
    reports: ReportSettings = ReportSettings()
    step2: Step2Settings = Step2Settings()
    review: ReviewSettings = ReviewSettings()
    crisis: CrisisSettings = CrisisSettings()


def _describe_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid settings"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  unknown key '{key}' (check spelling; allowed keys are in jumpup/settings.py)")
        else:
            lines.append(f"  key '{key}': {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


OUTSIDE_CHECKOUT = (
    "jumpup runs from a checkout of its repository (params.yaml, data/reference/): clone it and install it "
    "there with `pip install -e .`"
)


def in_checkout() -> bool:
    """Whether this code runs from a checkout (``PROJECT_ROOT`` holds ``data/reference/``).

    Installed from a wheel into site-packages it does not: ``params.yaml``, the reference tables
    and the stores live in the repository, and commands then stop with ``OUTSIDE_CHECKOUT``.
    """
    return (PROJECT_ROOT / "data" / "reference").is_dir()


def load_settings(path: Path | str | None = None, overrides: dict | None = None) -> Settings:
    """Load params.yaml (default: the project's) into frozen settings.

    ``overrides`` is a nested dict merged over the file, used by the CLI for flags such as --seed.
    """
    params_path = Path(path) if path is not None else DEFAULT_PARAMS_PATH
    if not params_path.exists():
        if params_path == DEFAULT_PARAMS_PATH and not in_checkout():
            raise SettingsError(f"{params_path}: settings file not found; {OUTSIDE_CHECKOUT}")
        raise SettingsError(f"{params_path}: settings file not found")
    try:
        text = params_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{params_path}: not UTF-8 text (byte {exc.start}); save the settings file as UTF-8"
        ) from None
    except OSError as exc:  # a folder, no permission
        raise SettingsError(f"{params_path}: cannot read the settings file ({exc.strerror or exc})") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:  # one line: where the parser stopped and why
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise SettingsError(f"{params_path}: not valid YAML{where}: {problem or ' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{params_path}: expected a mapping at the top level, got {type(raw).__name__}")
    merged = _deep_merge(raw, overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_describe_errors(exc, str(params_path))) from None


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
