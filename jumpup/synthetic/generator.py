"""Stage ``synth``: a deterministic synthetic Korean SME panel and application round.

Firms get a KSIC division, log-normal revenue by industry, persistent heterogeneous growth with
heavy-tailed (Student-t) shocks that partly revert (MA(1)), industry-year shocks, margins,
leverage, headcount, wages, R&D, patents, exports, investment rounds, exits and distress. A latent
firm quality drives growth, R&D, audit scores and investor recommendations, so that a model has
something real to find. Marginals are calibrated to the KOSDAQ panel (docs/synthetic.md).

Everything is vectorised over (firm, year) arrays, and each component draws from its own child
of one SeedSequence, so the same seed gives the same bytes and adding a component later does not
shift the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from jumpup.intake.contracts import INVESTMENT_STAGES, INVESTOR_TYPES
from jumpup.reference import audit_rubric, table_version
from jumpup.settings import SynthSettings

BURN_IN_YEARS = 2  # simulated before the first written year so that lags exist from year one
_NAME_HEADS = np.array(list("가나다라마바사아자차카타파하한동서남북신대성우영진세현"))
_NAME_TAILS = np.array(["테크", "바이오", "산업", "전자", "솔루션", "머티리얼즈", "시스템", "정밀", "에너지", "소프트"])
_INVESTOR_NAMES = np.array(
    [
        "한빛벤처스",
        "누리인베스트먼트",
        "가온파트너스",
        "미래성장캐피탈",
        "새솔에쿼티",
        "한결PE",
        "다온CVC",
        "스케일업파트너스",
    ]
)


@dataclass(frozen=True)
class SyntheticData:
    history_firms: pd.DataFrame
    history_financials: pd.DataFrame
    round_firms: pd.DataFrame
    round_financials: pd.DataFrame
    applications: pd.DataFrame
    audits: pd.DataFrame
    round_quality: np.ndarray | None = None  # latent quality of the round's firms (drives what happens after)


def _t_shocks(rng: np.random.Generator, shape: tuple[int, ...], df: float) -> np.ndarray:
    """Student-t shocks scaled to unit variance."""
    return rng.standard_t(df, size=shape) * np.sqrt((df - 2) / df)


def _industries() -> pd.DataFrame:
    return pd.read_csv(table_version("synth_industries").path)


def _ksic_codes_by_division() -> dict[str, np.ndarray]:
    tree = pd.read_csv(table_version("ksic_tree").path, dtype=str)
    tree = tree[tree["ksic_C"] == "C10"]
    division = tree["ksic1_cd"] + tree["ksic2_cd"].str.zfill(2)
    return {d: np.sort(codes.to_numpy()) for d, codes in tree["ksic5_cd"].groupby(division)}


def _firm_names(rng: np.random.Generator, n: int) -> np.ndarray:
    heads = _NAME_HEADS[rng.integers(0, len(_NAME_HEADS), size=(n, 2))]
    tails = _NAME_TAILS[rng.integers(0, len(_NAME_TAILS), size=n)]
    return np.char.add(np.char.add(heads[:, 0], heads[:, 1]), tails)


def simulate_firms(
    settings: SynthSettings,
    n_firms: int,
    seed_sequence: np.random.SeedSequence,
    id_prefix: str,
    first_year_written: int,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Simulate firms and their yearly statements; returns (firms, financials, latent quality)."""
    streams = iter([np.random.default_rng(s) for s in seed_sequence.spawn(24)])
    industries = _industries()
    regions = pd.read_csv(table_version("synth_regions").path)
    codes = _ksic_codes_by_division()
    s = settings
    last_year = s.last_fiscal_year
    n_years = last_year - first_year_written + 1
    total_years = n_years + BURN_IN_YEARS
    first_simulated = first_year_written - BURN_IN_YEARS
    years = np.arange(first_simulated, last_year + 1)

    rng = next(streams)
    weights = industries["weight"].to_numpy(float)
    industry = rng.choice(len(industries), size=n_firms, p=weights / weights.sum())
    quality = next(streams).standard_normal(n_firms)

    # Static attributes.
    rng = next(streams)
    division = industries["division"].to_numpy()[industry]
    code_pick = rng.random(n_firms)
    ksic_code = np.empty(n_firms, dtype=object)
    for d in np.unique(division):
        members = division == d
        options = codes[d]
        ksic_code[members] = options[np.minimum((code_pick[members] * len(options)).astype(int), len(options) - 1)]
    region_weights = regions["weight"].to_numpy(float)
    region = regions["region"].to_numpy()[
        rng.choice(len(regions), size=n_firms, p=region_weights / region_weights.sum())
    ]
    age_at_last = np.clip(3 + rng.gamma(2.2, 9.0, size=n_firms), 3, 70).astype(int)
    founded_year = last_year - age_at_last
    product_lists = [p.split(";") for p in industries["products"]]
    product_pick = rng.random(n_firms)
    main_products = np.array(
        [
            lst[min(int(u * len(lst)), len(lst) - 1)]
            for lst, u in zip((product_lists[i] for i in industry), product_pick, strict=True)
        ],
        dtype=object,
    )
    fiscal_month = np.where(rng.random(n_firms) < 0.95, 12, np.where(rng.random(n_firms) < 0.5, 3, 6))
    names = _firm_names(next(streams), n_firms)

    # Revenue path: persistent firm growth + MA(1) Student-t shocks + industry-year shocks.
    rng = next(streams)
    log_rev0 = (
        s.log_revenue_mean
        + industries["log_revenue_offset"].to_numpy()[industry]
        + np.sqrt(max(s.log_revenue_sd**2 - s.industry_log_revenue_sd**2, 1e-6)) * rng.standard_normal(n_firms)
    )
    firm_growth = (
        s.growth_firm_mean
        + s.growth_firm_sd
        * (s.growth_quality_weight * quality + np.sqrt(1 - s.growth_quality_weight**2) * rng.standard_normal(n_firms))
        - s.growth_size_effect * (log_rev0 - s.log_revenue_mean)
    )
    innovations = s.growth_shock_sd * _t_shocks(next(streams), (n_firms, total_years + 1), s.growth_shock_df)
    industry_shock = 0.05 * next(streams).standard_normal((len(industries), total_years))[industry]
    growth = firm_growth[:, None] + innovations[:, 1:] - s.growth_shock_ma * innovations[:, :-1] + industry_shock
    growth[:, 0] = 0.0
    log_revenue = log_rev0[:, None] + np.cumsum(growth, axis=1)
    revenue = np.exp(log_revenue)

    # Profitability responds to quality and to the year's growth surprise (operating leverage).
    rng = next(streams)
    firm_margin = s.operating_margin_mean + 0.03 * quality + s.operating_margin_sd * rng.standard_normal(n_firms)
    margin = firm_margin[:, None] + s.margin_noise_sd * rng.standard_normal((n_firms, total_years))
    margin += 0.15 * (growth - firm_growth[:, None])
    margin = np.clip(margin, -1.5, 0.6)
    operating_income = margin * revenue
    rng = next(streams)
    pretax_income = operating_income + revenue * 0.03 * rng.standard_normal((n_firms, total_years))
    net_income = np.where(pretax_income > 0, pretax_income * 0.8, pretax_income)
    operating_cash_flow = operating_income + revenue * (0.02 + 0.06 * rng.standard_normal((n_firms, total_years)))

    # Balance sheet.
    rng = next(streams)
    asset_ratio = np.exp(s.assets_to_revenue_log_mean + s.assets_to_revenue_log_sd * rng.standard_normal(n_firms))
    total_assets = revenue * asset_ratio[:, None] * np.exp(0.08 * rng.standard_normal((n_firms, total_years)))
    equity_ratio0 = rng.beta(s.equity_ratio_alpha, s.equity_ratio_beta, size=n_firms)
    equity_ratio = equity_ratio0[:, None] + 0.03 * rng.standard_normal((n_firms, total_years))
    equity_ratio += 0.5 * np.cumsum(margin - firm_margin[:, None], axis=1) / total_years
    equity_ratio = np.clip(equity_ratio, -0.5, 0.98)
    total_equity = total_assets * equity_ratio

    # People and pay.
    rng = next(streams)
    revenue_per_employee = np.exp(
        s.revenue_per_employee_log_mean + s.revenue_per_employee_log_sd * rng.standard_normal(n_firms)
    )
    employees = np.maximum(
        1,
        np.round(revenue / revenue_per_employee[:, None] * np.exp(0.05 * rng.standard_normal((n_firms, total_years)))),
    )
    wage = np.exp(s.wage_log_mean + 0.05 * quality + s.wage_log_sd * rng.standard_normal(n_firms))
    wage_path = (
        wage[:, None]
        * 1.03 ** (years - last_year)[None, :]
        * np.exp(0.03 * rng.standard_normal((n_firms, total_years)))
    )
    personnel_expense = employees * wage_path

    # Technology and markets.
    rng = next(streams)
    rd_intensity = np.clip(
        s.rd_intensity_mean
        * industries["rd_multiplier"].to_numpy()[industry]
        * np.exp(0.5 * quality + 0.6 * rng.standard_normal(n_firms) - 0.3),
        0,
        0.4,
    )
    rd_intensity[rng.random(n_firms) < 0.12] = 0.0
    rd_expense = rd_intensity[:, None] * revenue * np.exp(0.1 * rng.standard_normal((n_firms, total_years)))
    patents_granted = rng.poisson(s.patent_rate_per_billion_rd * rd_expense / 1e9)
    patent_disclosed = (patents_granted > 0) & (rng.random((n_firms, total_years)) < 0.5)
    exporter = rng.random(n_firms) < 0.6
    export_share = np.where(
        exporter,
        np.clip(
            rng.beta(1.2, 2.4, n_firms)
            * industries["export_multiplier"].to_numpy()[industry]
            * s.export_share_mean
            / 0.6
            / (1.2 / 3.6),
            0,
            0.95,
        ),
        0.0,
    )
    export_revenue = (
        export_share[:, None]
        * revenue
        * np.clip(1 + 0.1 * rng.standard_normal((n_firms, total_years)), 0, 1 / np.maximum(export_share[:, None], 1e-9))
    )
    rng = next(streams)
    invest_probability = s.investment_probability * np.exp(0.5 * quality)
    investment_raised = np.where(
        rng.random((n_firms, total_years)) < invest_probability[:, None],
        revenue * np.exp(-1.0 + 0.7 * rng.standard_normal((n_firms, total_years))),
        0.0,
    )
    lawsuit = rng.random((n_firms, total_years)) < 0.03

    # Exits and distress: weak margins and impaired capital raise the hazard; exited firms stop filing.
    rng = next(streams)
    hazard = s.exit_base_hazard * np.exp(-2.0 * np.clip(margin, -1, 0.5)) * (1 + 3 * (equity_ratio < 0))
    exit_draw = rng.random((n_firms, total_years)) < np.clip(hazard, 0, 0.5)
    exit_draw[:, : BURN_IN_YEARS + 1] = False
    exited = np.cumsum(exit_draw, axis=1) > 0
    # Distress (관리종목-like): thin capital with a loss, or four deep operating losses in a row.
    losing = margin < -0.1
    four_losses = losing & np.roll(losing, 1, axis=1) & np.roll(losing, 2, axis=1) & np.roll(losing, 3, axis=1)
    four_losses[:, :3] = False
    distress = ((equity_ratio < s.distress_equity_ratio) & (net_income < 0)) | four_losses

    # Rows exist from the founding year (or the first written year) until exit.
    alive = (years[None, :] >= founded_year[:, None]) & ~exited
    written = alive & (years[None, :] >= first_year_written)
    firm_index, year_index = np.nonzero(written)

    rng = next(streams)
    employees_missing = rng.random(len(firm_index)) < s.missing_employees_share
    certification_draw = rng.random((len(firm_index), 3))
    age_at_year = years[year_index] - founded_year[firm_index]
    venture = (age_at_year < 15) & (rd_intensity[firm_index] > 0.02) & (certification_draw[:, 0] < 0.6)
    innobiz = (rd_intensity[firm_index] > 0.015) & (certification_draw[:, 1] < 0.5)
    mainbiz = certification_draw[:, 2] < 0.2
    certifications = np.where(venture, "venture", "")
    certifications = np.char.add(certifications, np.where(innobiz, np.where(venture, ";innobiz", "innobiz"), ""))
    certifications = np.char.add(
        certifications, np.where(mainbiz, np.where(venture | innobiz, ";mainbiz", "mainbiz"), "")
    )
    certifications = np.where(certifications == "", "none", certifications)

    def pick(array: np.ndarray) -> np.ndarray:
        return array[firm_index, year_index]

    def won(array: np.ndarray) -> pd.array:
        """Whole thousands of won, as Korean statements report them (천원 단위)."""
        return pd.array(np.round(pick(array) / 1000).astype(np.int64) * 1000, dtype="Int64")

    ids = np.char.add(id_prefix, np.char.zfill(np.arange(1, n_firms + 1).astype(str), 7))
    employees_column = pd.array(pick(employees).astype(np.int64), dtype="Int64")
    employees_column[employees_missing] = pd.NA
    financials = pd.DataFrame(
        {
            "firm_id": ids[firm_index],
            "fiscal_year": years[year_index].astype(np.int64),
            "revenue": won(revenue),
            "operating_income": won(operating_income),
            "net_income": won(net_income),
            "pretax_income": won(pretax_income),
            "operating_cash_flow": won(operating_cash_flow),
            "total_assets": won(total_assets),
            "total_equity": won(total_equity),
            "total_liabilities": None,
            "employees": employees_column,
            "rd_expense": won(rd_expense),
            "export_revenue": won(export_revenue),
            "investment_raised": won(investment_raised),
            "personnel_expense": won(personnel_expense),
            "patents_granted": pick(patents_granted).astype(np.int64),
            "certifications": certifications,
            "patent_disclosed": pick(patent_disclosed).astype(np.int64),
            "lawsuit_disclosed": pick(lawsuit).astype(np.int64),
            "administrative_issue": pick(distress).astype(np.int64),
        }
    )
    # Liabilities close the balance sheet exactly after rounding.
    financials["total_liabilities"] = financials["total_assets"] - financials["total_equity"]
    financials["export_revenue"] = np.minimum(financials["export_revenue"], financials["revenue"])
    listed = rng.random(n_firms) < 0.2
    listed_on = (
        pd.to_datetime(
            pd.DataFrame(
                {"year": np.maximum(founded_year + 5, 2000), "month": 1 + (np.arange(n_firms) % 12), "day": 15}
            )
        )
        .dt.strftime("%Y-%m-%d")
        .to_numpy(dtype=object)
    )
    listed_on[~listed] = None
    firms = pd.DataFrame(
        {
            "firm_id": ids,
            "name": names,
            "ksic_division": division,
            "industry_name": None,
            "main_products": main_products,
            "region": region,
            "listed_on": listed_on,
            "fiscal_year_end_month": fiscal_month.astype(np.int64),
            "ksic_code": ksic_code,
            "founded_year": founded_year.astype(np.int64),
        }
    )
    division_names = pd.read_csv(table_version("ksic_divisions").path, dtype=str)
    name_by_division = dict(
        zip(
            division_names["ksic1_cd"] + division_names["ksic2_cd"].str.zfill(2),
            division_names["ksic2_nm"],
            strict=True,
        )
    )
    firms["industry_name"] = firms["ksic_division"].map(name_by_division)
    has_rows = np.zeros(n_firms, dtype=bool)
    has_rows[np.unique(firm_index)] = True
    return firms.loc[has_rows].reset_index(drop=True), financials, quality[has_rows]


def simulate_round(
    settings: SynthSettings,
    firms: pd.DataFrame,
    financials: pd.DataFrame,
    quality: np.ndarray,
    seed_sequence: np.random.SeedSequence,
    round_id: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Applications (with investor recommendations) and field-audit scores for firms filing in the last year."""
    rng_apply, rng_audit, rng_eval = (np.random.default_rng(s) for s in seed_sequence.spawn(3))
    last = settings.last_fiscal_year
    filing = np.isin(
        firms["firm_id"].to_numpy(), financials.loc[financials["fiscal_year"] == last, "firm_id"].to_numpy()
    )
    applicants = firms.loc[filing, "firm_id"].to_numpy()
    q = quality[filing]
    n = len(applicants)
    # Recommendation probability rises with quality; the intercept hits the configured share on average.
    z = np.clip(settings.recommended_share, 1e-6, 1 - 1e-6)
    intercept = np.log(z / (1 - z)) - 0.5
    recommended = rng_apply.random(n) < 1 / (1 + np.exp(-(intercept + 1.2 * q)))
    investor_type = np.array(INVESTOR_TYPES)[rng_apply.choice(3, size=n, p=[0.6, 0.2, 0.2])]
    stage = np.array(["series_a", "series_b", "series_c", "pre_ipo"])[
        rng_apply.choice(4, size=n, p=[0.3, 0.4, 0.2, 0.1])
    ]
    assert set(stage) <= set(INVESTMENT_STAGES)
    investor = _INVESTOR_NAMES[rng_apply.integers(0, len(_INVESTOR_NAMES), size=n)]
    day = rng_apply.integers(0, 28, size=n)
    applied_on = (pd.Timestamp(f"{last + 1}-03-01") + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%d")
    applications = pd.DataFrame(
        {
            "firm_id": applicants,
            "round_id": round_id,
            "applied_on": applied_on,
            "recommending_investor": np.where(recommended, investor, None),
            "investor_type": np.where(recommended, investor_type, None),
            "investment_stage": np.where(recommended, stage, None),
        }
    )

    rubric = audit_rubric()
    items = list(rubric["items"])
    roles = list(rubric["roles"])
    pool = settings.audit_evaluator_pool
    evaluator_role = np.array(roles)[np.arange(pool) % len(roles)]
    leniency = 0.35 * rng_eval.standard_normal(pool)
    per_firm = settings.audit_evaluators_per_firm
    # Each firm's panel: one evaluator from each role in turn, without repeats.
    by_role = [np.flatnonzero(evaluator_role == r) for r in roles]
    panel = np.empty((n, per_firm), dtype=np.int64)
    for k in range(per_firm):
        members = by_role[k % len(roles)]
        offset = k // len(roles)
        panel[:, k] = members[(rng_audit.integers(0, len(members), size=n) + offset) % len(members)]
    item_effect = 0.3 * rng_audit.standard_normal((n, len(items)))
    raw = (
        3.0
        + 0.7 * q[:, None, None]
        + item_effect[:, None, :]
        + leniency[panel][:, :, None]
        + 0.5 * rng_audit.standard_normal((n, per_firm, len(items)))
    )
    scores = np.clip(np.round(raw), rubric["scale"]["min"], rubric["scale"]["max"]).astype(np.int64)
    firm_ix, panel_ix, item_ix = np.indices(scores.shape).reshape(3, -1)
    evaluator_ix = panel[firm_ix, panel_ix]
    audits = pd.DataFrame(
        {
            "firm_id": applicants[firm_ix],
            "round_id": round_id,
            "evaluator_id": np.char.add("E", np.char.zfill((evaluator_ix + 1).astype(str), 3)),
            "evaluator_role": evaluator_role[evaluator_ix],
            "item": np.array(items)[item_ix],
            "score": scores.reshape(-1),
        }
    )
    return applications, audits


def generate(
    settings: SynthSettings, seed: int, n_firms: int | None = None, n_applicants: int | None = None
) -> SyntheticData:
    """Generate the history panel and an application round for the year after the last fiscal year."""
    n_firms = n_firms if n_firms is not None else settings.firms
    n_applicants = n_applicants if n_applicants is not None else settings.applicants
    root = np.random.SeedSequence(seed)
    history_seq, round_seq, round_events_seq = root.spawn(3)
    first_year = settings.last_fiscal_year - settings.years + 1
    firms, financials, _ = simulate_firms(settings, n_firms, history_seq, "S", first_year)
    round_first_year = settings.last_fiscal_year - 4
    round_firms, round_financials, quality = simulate_firms(settings, n_applicants, round_seq, "R", round_first_year)
    applications, audits = simulate_round(
        settings, round_firms, round_financials, quality, round_events_seq, f"{settings.last_fiscal_year + 1}-1"
    )
    return SyntheticData(firms, financials, round_firms, round_financials, applications, audits, quality)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV through Arrow: fast at millions of rows and byte-stable for the same frame."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(quoting_style="needed"))


def write_synthetic(data: SyntheticData, out_dir: Path, fmt: str = "csv") -> dict[str, Path]:
    """Write ``history/`` (firms, financials) and ``round/`` (firms, financials, applications, audits)."""
    out_dir = Path(out_dir)
    outputs = {
        "history/firms": data.history_firms,
        "history/financials": data.history_financials,
        "round/firms": data.round_firms,
        "round/financials": data.round_financials,
        "round/applications": data.applications,
        "round/audits": data.audits,
    }
    paths: dict[str, Path] = {}
    for name, frame in outputs.items():
        path = out_dir / f"{name}.{fmt}"
        for other in ("csv", "parquet"):
            if other != fmt:
                (out_dir / f"{name}.{other}").unlink(missing_ok=True)
        if fmt == "csv":
            write_csv(frame, path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)
        paths[name] = path
    return paths
