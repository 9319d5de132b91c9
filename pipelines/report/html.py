"""report.html: the verifier package as one self-contained page per project and period.

Shaped like a monitoring report for a VVB (cookstove_methodology.md §9): summary per vintage, the
Article 6 fields, a map of where the data was collected with quarantined submissions marked, the
sampling result, charts, the per-parameter table (D.1 fixed, D.2 monitored), the calculation chain
step by step, data quality and upload lineage. Everything is drawn from the package's own tables,
so the page shows what a verifier can query in report.duckdb; charts and maps are inline SVG and the
stylesheet is inline, so the file opens offline and prints to PDF (``@media print``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from pipelines.quality.reasons import REASONS
from pipelines.report import maps
from pipelines.report.parameter_notes import MONITORED, note
from pipelines.report.svg import (QUARANTINE_COLOUR, bar_chart, colour, esc, hbar_chart, interval_gauge, legend,
                                  num)

COOKSTOVES = "cdm-ams-ii-g"
TREES = "vm0047-census"

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9dee4; --soft:#f4f6f8; --accent:#0b5394; --warn:#8a4b00;
        --warnbg:#fff4e0; --bad:#b00020; --ok:#1b6e3a; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
       Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 60px; }
header.report { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 8px; }
header.report h1 { font-size: 24px; margin: 0 0 4px; }
header.report .sub { color: var(--muted); }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
p { margin: 6px 0 10px; }
nav.toc { margin: 12px 0 4px; font-size: 13px; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; margin: 10px 0; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(175px, 1fr)); gap: 10px; margin: 12px 0; }
.card { background: var(--soft); border-radius: 6px; padding: 10px 12px; border-left: 4px solid var(--accent); }
.card .value { font-size: 21px; font-weight: 700; }
.card .label { color: var(--muted); font-size: 12px; }
.card.good { border-left-color: var(--ok); } .card.warn { border-left-color: #E69F00; }
.card.bad { border-left-color: var(--bad); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.scope-start td { border-top: 2px solid #c3cad3; }
td.small, .small { font-size: 11.5px; color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.notice { background: var(--soft); border-radius: 6px; padding: 8px 12px; font-size: 13px; }
.warning { background: var(--warnbg); border-left: 4px solid #E69F00; padding: 8px 12px; border-radius: 4px;
           margin: 8px 0; color: var(--warn); }
.warning strong { color: #6b3a00; }
.ok { color: var(--ok); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
figure { margin: 10px 0 18px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin: 6px 0; }
.legend .key { display: inline-flex; align-items: center; gap: 4px; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.panels figure { margin: 0; }
.two { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 18px; align-items: start; }
@media (max-width: 760px) { .two { grid-template-columns: 1fr; } }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { font-size: 10pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; }
  section.major { break-before: page; page-break-before: always; }
  figure, .cards, .warning, tr, .panels > figure { break-inside: avoid; page-break-inside: avoid; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  .two { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  a { color: inherit; text-decoration: none; }
}
"""


# ----------------------------------------------------------------------------- helpers

def _table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, Callable[[object], str] | None]], *,
           numeric: Sequence[str] = (), row_class: Callable[[pd.Series], str] | None = None) -> str:
    """An HTML table: ``columns`` = [(column, header, formatter)]; formatted cells are not escaped again."""
    head = "".join(f'<th{_cls("n" if c in numeric else "")}>{esc(h)}</th>' for c, h, _ in columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column, _, formatter in columns:
            value = row.get(column)
            text = formatter(value) if formatter else ("–" if _missing(value) else esc(value))
            cells.append(f'<td{_cls("n" if column in numeric else "")}>{text}</td>')
        body.append(f'<tr{_cls(row_class(row) if row_class else "")}>{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cls(name: str) -> str:
    return f' class="{name}"' if name else ""


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _n(sig: int = 6) -> Callable[[object], str]:
    return lambda v: esc(num(v, sig))


def _pct(v: object, digits: int = 1) -> str:
    if _missing(v):
        return "–"
    f = float(v)  # type: ignore[arg-type]
    return "∞" if math.isinf(f) else f"{f * 100:.{digits}f} %"


def _figure(svg: str, caption: str, extra: str = "") -> str:
    return f"<figure>{svg}{extra}<figcaption>{esc(caption)}</figcaption></figure>"


def _card(value: str, label: str, kind: str = "") -> str:
    return f'<div class="card {kind}"><div class="value">{value}</div><div class="label">{esc(label)}</div></div>'


def _steps(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    steps = tables.get("calculation_steps")
    if steps is None:
        return pd.DataFrame(columns=["name", "scope", "value"])
    steps = steps.copy()
    if "scope" not in steps:
        steps["scope"] = ""
    steps["scope"] = steps["scope"].fillna("").astype(str)
    return steps


def _step(steps: pd.DataFrame, name: str, scope: str = "", default: float = math.nan) -> float:
    hit = steps[(steps["name"] == name) & (steps["scope"] == scope)]
    return float(hit["value"].iloc[0]) if len(hit) else default


def _param(tables: dict[str, pd.DataFrame], name: str, default: float = math.nan) -> float:
    params = tables.get("parameters")
    if params is None:
        return default
    hit = params[params["name"] == name]
    return float(hit["value"].iloc[0]) if len(hit) else default


def _month(values: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each date (missing when not a date); each distinct date is formatted once."""
    stamps = pd.to_datetime(values, errors="coerce")
    codes, uniques = pd.factorize(stamps)
    labels = pd.Series(uniques).dt.strftime("%Y-%m")
    out = labels.take(np.where(codes < 0, 0, codes)) if len(labels) else labels.reindex(range(len(codes)))
    return out.where(codes >= 0).set_axis(stamps.index).rename(stamps.name)


# ----------------------------------------------------------------------------- sections

def _header(info: dict[str, str], tables: dict[str, pd.DataFrame]) -> str:
    version = tables.get("report_version")
    version_text = str(version["version"].iloc[0]) if version is not None and len(version) else "–"
    name = info.get("project_name") or info.get("project_id", "")
    period = info.get("period_id", "")
    dates = f"{info['period_start']} – {info['period_end']}" if info.get("period_start") else ""
    rows = [("Project", f"{info.get('project_id', '')} — {name}"),
            ("Host country", info.get("country", "–")),
            ("Monitoring period", f"{period} ({dates}, both dates inclusive)" if dates else period),
            ("Methodology", info.get("methodology_version", info.get("methodology", ""))),
            ("Report version", version_text),
            ("Parameter set (SHA-256)", info.get("parameters_sha256", "")),
            ("Code version", info.get("code_version", "")),
            ("Generated", info.get("generated_at", ""))]
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return (f'<header class="report"><h1>Monitoring report: {esc(name)}, {esc(period)}</h1>'
            f'<div class="sub">Verifier package of Field MRV · {esc(info.get("methodology_version", ""))}</div></header>'
            f'<dl class="meta">{meta}</dl>'
            '<p class="notice">Every number on this page comes from the tables of this package '
            '(<code>report.duckdb</code>, and the same tables under <code>parquet/</code>). '
            '<code>manifest.json</code> holds the SHA-256 of every file, this page included; '
            '<code>mrv verify &lt;this folder&gt;</code> re-checks the hashes and recomputes the totals '
            'from the stored rows and parameters.</p>')


def _nav(sections: Sequence[tuple[str, str]]) -> str:
    return '<nav class="toc">' + "".join(f'<a href="#{i}">{esc(t)}</a>' for i, t in sections) + "</nav>"


def _summary(info: dict[str, str], tables: dict[str, pd.DataFrame]) -> str:
    er = tables.get("emission_reductions", pd.DataFrame(columns=["vintage", "er_tco2e", "issuable_tco2e"]))
    er = er.sort_values("vintage")
    methodology = info.get("methodology")
    what = "Net removals" if methodology == TREES else "Emission reductions"
    total, issuable = float(er["er_tco2e"].sum()), int(er["issuable_tco2e"].sum())
    cards = [_card(f"{num(total, 6)}", f"{what}, tCO2e (unrounded)"),
             _card(f"{issuable:,}", "issuable, tCO2e (floor per vintage)", "good")]
    steps = _steps(tables)
    if methodology == COOKSTOVES:
        stoves = tables.get("stove_distribution")
        cards.append(_card(f"{len(stoves):,}" if stoves is not None else "–", "stoves in the register"))
        cards.append(_card(_pct(_step(steps, "usage_rate_applied")), "usage rate applied (U)"))
        cards.append(_card(num(_step(steps, "usage_sample_size")), "stoves in the usage sample (n)"))
    elif methodology == TREES:
        event = tables.get("event_summary")
        if event is not None and len(event):
            e = event.iloc[0]
            cards.append(_card(num(e["stock_t_c"], 5), "carbon stock, t C"))
            cards.append(_card(_pct(e["u_p"]), "sampling uncertainty U_p (90 %)"))
            cards.append(_card(_pct(e["unc"], 2), "uncertainty deduction UNC"))
        strata = tables.get("strata")
        if strata is not None:
            cards.append(_card(f"{int(strata['n_planted'].sum()):,}", "planting units in the census"))
    quarantine = tables.get("quarantine")
    if quarantine is not None:
        cards.append(_card(f"{quarantine['submission_id'].nunique():,}", "quarantined submissions",
                           "bad" if len(quarantine) else "good"))
    article6 = tables.get("article6")
    if article6 is not None and len(article6):
        warned = int((article6["check_status"] == "warning").sum())
        status = ", ".join(sorted(set(article6["authorization_status"].astype(str))))
        cards.append(_card(esc(status.replace("_", " ")), "Article 6 authorization", "warn" if warned else ""))

    per_vintage = er.copy()
    if article6 is not None and len(article6):
        per_vintage = per_vintage.merge(article6[["vintage", "authorization_status", "corresponding_adjustment_status"]],
                                        on="vintage", how="left")
    columns = [("vintage", "Vintage", None), ("er_tco2e", f"{what} (tCO2e)", _n(8)),
               ("issuable_tco2e", "Issuable (tCO2e)", _n())]
    if "authorization_status" in per_vintage:
        columns += [("authorization_status", "Article 6 authorization", None),
                    ("corresponding_adjustment_status", "Corresponding adjustment", None)]
    table = _table(per_vintage, columns, numeric=("er_tco2e", "issuable_tco2e"))
    chart = ""
    if len(er):
        chart = _figure(bar_chart([str(v) for v in er["vintage"]],
                                  [(f"{what} (unrounded)", er["er_tco2e"].astype(float).tolist(), colour(0)),
                                   ("issuable (floor)", er["issuable_tco2e"].astype(float).tolist(), colour(2))],
                                  label=f"{what} per vintage", y_label="tCO2e", width=520, height=230),
                        f"{what} per vintage (calendar year): unrounded and issuable.",
                        legend([(f"{what} (unrounded)", colour(0), "box"), ("issuable (floor)", colour(2), "box")]))
    return (f'<section id="summary"><h2>§ Summary</h2><div class="cards">{"".join(cards)}</div>'
            f"{table}{chart}</section>")


def _article6(tables: dict[str, pd.DataFrame]) -> str:
    article6 = tables.get("article6")
    head = '<section id="article6"><h2>§ Article 6 (Paris Agreement)</h2>'
    if article6 is None or article6.empty:
        return head + "<p>This package has no <code>article6</code> table.</p></section>"
    first = article6.iloc[0]
    warnings = article6[article6["check_status"] == "warning"]
    lines = []
    for row in warnings.itertuples(index=False):
        for message in str(row.check_message).split(" | "):
            lines.append(f'<div class="warning"><strong>Article 6 warning (vintage {row.vintage}):</strong> '
                         f'{esc(message)}</div>')
    intro = (f"<p>Host party <strong>{esc(first['host_party'])}</strong>; activity type "
             f"<strong>{esc(str(first['activity_type']).replace('_', ' '))}</strong> "
             f"({esc(first['activity_type_source'])}). ")
    if not _missing(first["host_list"]):
        intro += (f"Host-country list: {esc(first['host_list'])}, valid {esc(first['host_list_valid_from'])} – "
                  f"{esc(first['host_list_valid_until'])}; this activity is "
                  f"<strong>{esc(str(first['host_list_status']).replace('_', ' '))}</strong>.")
    intro += "</p>"
    columns = [("vintage", "Vintage", None), ("issuable_tco2e", "Issuable", _n()),
               ("authorization_status", "Authorization", None), ("loa_id", "LoA id", None),
               ("loa_date", "LoA date", None), ("authorized_use", "Authorized use", None),
               ("first_transfer_trigger", "First transfer", None),
               ("corresponding_adjustment_status", "CA status", None),
               ("corresponding_adjustment_declaration", "CA declaration", None),
               ("check_status", "Check", lambda v: f'<span class="{"bad" if v == "warning" else "ok"}">{esc(v)}</span>')]
    notes = "".join(f"<li>vintage {r.vintage}: {esc(r.check_message)}</li>"
                    for r in article6[article6["check_status"] != "warning"].itertuples(index=False))
    return (head + intro + "".join(lines) + _table(article6, columns, numeric=("issuable_tco2e",))
            + (f'<ul class="small">{notes}</ul>' if notes else "")
            + '<p class="small">Fields per vintage as carried to a registry: Letter of Authorization (id, date, issuer), '
              'authorized use (NDC, OIMP_CORSIA, OIMP_other, voluntary mitigation contribution), first-transfer trigger, '
              'corresponding-adjustment status and declaration. Read from <code>article6:</code> in project.yaml; '
              'default not authorized.</p></section>')


def _map(info: dict[str, str], tables: dict[str, pd.DataFrame]) -> str:
    figure = maps.tree_maps(tables) if info.get("methodology") == TREES else maps.cookstove_map(tables)
    head = '<section id="map" class="major"><h2>§ Where the data comes from</h2>'
    if figure is None:
        return head + "<p>No coordinates in this package.</p></section>"
    out = [head, f"<figure>{figure.svg}{legend(figure.legend)}<figcaption>{esc(figure.caption)}</figcaption></figure>"]
    if figure.details:
        out.append("<h3>Plots in detail (most quarantined submissions nearby, then most planting units)</h3>")
        out.append('<div class="panels">' + "".join(f"<figure>{svg}<figcaption>{esc(t)}</figcaption></figure>"
                                                    for t, svg in figure.details) + "</div>")
    locations = tables.get("quarantine_locations")
    quarantine = tables.get("quarantine")
    if locations is not None and quarantine is not None:
        missing = quarantine["submission_id"].nunique() - locations["submission_id"].nunique()
        if missing > 0:
            out.append(f'<p class="small">{missing} quarantined submission(s) had no usable coordinates and are not '
                       "on the map (see the quarantine table).</p>")
    out.append("</section>")
    return "".join(out)


def _cookstove_sampling(tables: dict[str, pd.DataFrame]) -> str:
    steps = _steps(tables)
    n, k = _step(steps, "usage_sample_size"), _step(steps, "usage_in_use_count")
    p, se = _step(steps, "usage_proportion"), _step(steps, "usage_standard_error")
    moe, rp = _step(steps, "usage_margin_of_error"), _step(steps, "usage_relative_precision")
    met, applied = _step(steps, "usage_meets_precision_target"), _step(steps, "usage_rate_applied")
    z, target = _param(tables, "z"), _param(tables, "usage_precision_target", 0.10)
    forced = not (met >= 1)
    verdict = (f'<span class="bad">yes</span>: the relative precision {_pct(rp)} exceeds the target {_pct(target, 0)}, '
               f"so the lower bound p − z·SE = {_pct(applied, 2)} is applied"
               if forced else f'<span class="ok">no</span>: the relative precision {_pct(rp)} meets the target '
                              f"{_pct(target, 0)}, so the point estimate p is applied")
    needed = ""
    if p > 0 and math.isfinite(z):
        n_needed = math.ceil(z * z * (1 - p) / (p * target * target))
        needed = f"{n_needed:,} stoves (at p = {_pct(p)}, no finite-population correction)"
    sample = tables.get("usage_sample")
    visits = tables.get("cookstove_usage")
    rows = [("Visits in the period (accepted)", f"{len(visits):,}" if visits is not None else "–"),
            ("Stoves visited (latest visit each)", f"{len(sample):,}" if sample is not None else "–"),
            ("… beyond technical life at the visit (not counted)",
             f"{int((~sample['within_technical_life'].astype(bool)).sum()):,}" if sample is not None else "–"),
            ("… visited more than once (latest used)",
             f"{int((sample['visits_in_period'] > 1).sum()):,}" if sample is not None and "visits_in_period" in sample else "–"),
            ("n — stoves counted", num(n)), ("K — found and in use", num(k)), ("p = K / n", _pct(p, 2)),
            ("SE = √(p(1−p)/n)", num(se, 4)), (f"MOE = z·SE (z = {num(z, 8)})", num(moe, 4)),
            ("Relative precision MOE / p", _pct(rp, 2)), ("Target (90/10 rule)", _pct(target, 0)),
            ("Lower bound forced by the 90/10 rule", verdict), ("U applied", f"<strong>{_pct(applied, 2)}</strong>"),
            ("Sample that would meet 90/10", needed or "–")]
    body = "".join(f"<tr><th>{esc(a)}</th><td>{b}</td></tr>" for a, b in rows)
    gauge = interval_gauge(label="Usage proportion with its 90 % interval", estimate=p, low=p - moe, high=p + moe,
                           applied=applied, target_low=p - target * p, estimate_text="p", applied_text="U applied")
    return (f"<table>{body}</table>"
            + _figure(gauge, "Usage proportion p with its 90 % interval (bar), the band p − 10 % p the lower end must "
                             "reach for 90/10 (green), and the usage rate applied (triangle)."))


def _tree_sampling(tables: dict[str, pd.DataFrame]) -> str:
    strata = tables.get("strata")
    event = tables.get("event_summary")
    if strata is None or event is None or event.empty:
        return "<p>No strata in this package.</p>"
    columns = [("species_code", "Stratum (species)", None), ("n_planted", "N_s", _n()), ("n_dead", "dead_s", _n()),
               ("mortality", "M_s", lambda v: _pct(v)), ("n_live", "N_s(1−M_s)", _n()), ("n_sampled", "n_s", _n()),
               ("mean_carbon_t", "C̄_s (t C)", _n(4)), ("se_carbon_t", "SE_s (t C)", _n(3)),
               ("stock_t_c", "Stock C_s (t C)", _n(5)), ("se_stock_t_c", "SE(C_s) (t C)", _n(3)),
               ("in_estimate", "In estimate", lambda v: "yes" if bool(v) else '<span class="bad">no</span>')]
    numeric = ("n_planted", "n_dead", "mortality", "n_live", "n_sampled", "mean_carbon_t", "se_carbon_t", "stock_t_c",
               "se_stock_t_c")
    e = event.iloc[0]
    allowance = _param(tables, "uncertainty_allowance", 0.10)
    previous = str(e["previous_period_id"]) if not _missing(e["previous_period_id"]) else ""
    previous = previous if previous not in ("", "None", "nan") else "none"
    eligible = '<span class="ok">yes</span>' if bool(e["eligible"]) else '<span class="bad">no</span>'

    def t(column: str, unit: str = "tCO2e") -> str:
        return f"{num(e[column], 6)} {unit}"

    rows = [("Stock C = Σ C_s", t("stock_t_c", "t C")), ("SE_total = √Σ SE(C_s)²", f"{num(e['se_total_t_c'], 4)} t C"),
            ("df = Σ n_s − strata", num(e["df"])), ("T = t(0.95, df)", num(e["t_value"], 6)),
            ("U_p = T · SE_total / C", _pct(e["u_p"], 2)), ("Allowance (not deducted)", _pct(allowance, 0)),
            ("UNC = min(1, max(0, U_p − allowance))", _pct(e["unc"], 3)), ("Eligible (U_p ≤ 100 %)", eligible),
            ("ΔC = C × 44/12", t("delta_c_tco2e")), ("ΔC (1 − UNC)", t("adjusted_stock_tco2e")),
            (f"Credited stock of the previous period ({previous})", t("credited_stock_prev_tco2e")),
            ("Removals of the interval", t("removals_tco2e")), ("Buffer", t("buffer_tco2e")),
            ("Net removals", f"<strong>{t('net_tco2e')}</strong>")]
    body = "".join(f"<tr><th>{esc(a)}</th><td>{b}</td></tr>" for a, b in rows)
    return _table(strata, columns, numeric=numeric) + f"<table>{body}</table>"


def _sampling(info: dict[str, str], tables: dict[str, pd.DataFrame]) -> str:
    head = '<section id="sampling" class="major"><h2>§ Sampling result</h2>'
    if info.get("methodology") == COOKSTOVES:
        return head + "<p>Usage rate U (contract, AMS-II.G): the latest accepted visit per stove, counted when the stove " \
                      "is within its technical life; a stove not found counts as not in use.</p>" \
               + _cookstove_sampling(tables) + "</section>"
    if info.get("methodology") == TREES:
        return head + "<p>Census strata (species): complete re-enumeration for N_s and mortality; every measured live " \
                      "tree in the sample (VM0047 census approach).</p>" + _tree_sampling(tables) + "</section>"
    return head + "<p>No sampling tables for this methodology.</p></section>"


def _cookstove_charts(tables: dict[str, pd.DataFrame]) -> list[str]:
    out = []
    stoves, sample = tables.get("stove_distribution"), tables.get("usage_sample")
    steps = _steps(tables)
    if stoves is not None and sample is not None and len(sample):
        cohort = stoves[["stove_serial", "commissioned_on"]].assign(month=lambda f: _month(f["commissioned_on"]))
        counted = sample[sample["counted"].astype(bool)].merge(cohort, on="stove_serial", how="left")
        by = counted.groupby("month", dropna=False).agg(n=("in_use", "size"), k=("in_use", "sum")).reset_index()
        by = by.sort_values("month")
        by["share"] = by["k"] / by["n"]
        p, applied = _step(steps, "usage_proportion"), _step(steps, "usage_rate_applied")
        reference = [(p, f"p = {_pct(p)}", "#0072B2")]
        if math.isfinite(applied) and abs(applied - p) > 1e-12:
            reference.append((applied, f"U applied = {_pct(applied)}", "#D55E00"))
        chart = bar_chart([str(m) for m in by["month"]], [("in use", by["share"].tolist(), "#56B4E9")],
                          label="Usage by commissioning cohort", y_label="share found in use", percent=True, y_max=1.0,
                          annotations=[f"n={int(v)}" for v in by["n"]], reference=reference, width=900, height=280)
        out.append("<h3>Usage by commissioning cohort (month)</h3>" + _figure(
            chart, "Share of counted stoves found in use, by the month the stove was commissioned; n above each bar. "
                   "Dashed lines: the period's p and the usage rate applied."))
    if stoves is not None and len(stoves):
        months = _month(stoves["commissioned_on"])
        models = sorted(stoves["stove_model"].astype(str).unique())
        table = pd.crosstab(months, stoves["stove_model"].astype(str)).reindex(columns=models, fill_value=0).sort_index()
        series = [(m, table[m].astype(float).tolist(), colour(i)) for i, m in enumerate(models)]
        chart = bar_chart([str(m) for m in table.index], series, stacked=True, label="Stoves commissioned per month",
                          y_label="stoves", width=900, height=260)
        out.append("<h3>Stoves commissioned per month, by model</h3>" + _figure(
            chart, "Accepted distribution records by commissioning month (implementation status, monitoring report §B).",
            legend([(m, colour(i), "box") for i, m in enumerate(models)])))
    return out


def _tree_charts(tables: dict[str, pd.DataFrame]) -> list[str]:
    strata, event = tables.get("strata"), tables.get("event_summary")
    if strata is None or strata.empty:
        return []
    strata = strata.sort_values("species_code")
    names = strata["species_code"].astype(str).tolist()
    survival = (1 - strata["mortality"].astype(float)).tolist()
    out = ["<div><h3>Survival by species</h3>" + _figure(
        bar_chart(names, [("survival", survival, "#009E73")], label="Survival by species", y_label="share alive",
                  percent=True, y_max=1.0, annotations=[f"N={int(v):,}" for v in strata["n_planted"]], width=460, height=250),
        "1 − M_s per species from the complete re-enumeration (dead, not found and not visited count as dead); "
        "N_s above each bar.") + "</div>"]
    t_value = float(event["t_value"].iloc[0]) if event is not None and len(event) else math.nan
    errors = (strata["se_stock_t_c"].astype(float) * t_value).fillna(0.0).tolist() if math.isfinite(t_value) else None
    out.append("<div><h3>Carbon stock by stratum</h3>" + _figure(
        bar_chart(names, [("stock", strata["stock_t_c"].astype(float).tolist(), "#0072B2")], label="Stock by stratum",
                  y_label="t C", errors=errors, annotations=[f"n={int(v)}" for v in strata["n_sampled"]],
                  width=460, height=250),
        "Stock C_s = N_s(1 − M_s)·C̄_s per species with its 90 % interval (± T·SE(C_s)); n_s measured trees above each "
        "bar.") + "</div>")
    return ['<div class="two">' + "".join(out) + "</div>"]


def _quality_charts(tables: dict[str, pd.DataFrame]) -> str:
    quarantine, warnings = tables.get("quarantine"), tables.get("warnings")
    out = []
    if quarantine is not None and len(quarantine):
        reasons = sorted(quarantine["reason"].astype(str).unique())
        reason_colour = {r: colour(i) for i, r in enumerate(reasons)}
        by_reason = quarantine["reason"].astype(str).value_counts()
        order = by_reason.index.tolist()
        out.append("<h3>Quarantine by reason</h3>" + _figure(
            hbar_chart(order, [("rows", by_reason.astype(float).tolist(), QUARANTINE_COLOUR)],
                       label="Quarantine by reason", width=900),
            "Quarantine rows per reason (a submission breaking several rules has one row per reason)."))
        runner = quarantine.assign(runner_id=quarantine["runner_id"].fillna("(none)").astype(str))
        table = pd.crosstab(runner["runner_id"], runner["reason"].astype(str)).reindex(columns=reasons, fill_value=0)
        table = table.loc[table.sum(axis=1).sort_values(ascending=False).index]
        series = [(r, table[r].astype(float).tolist(), reason_colour[r]) for r in reasons]
        out.append("<h3>Quarantine by runner</h3>" + _figure(
            hbar_chart(table.index.tolist(), series, label="Quarantine by runner", width=900),
            "Quarantine rows per runner, by reason: where retraining or a supervisor back-check helps most.",
            legend([(r, reason_colour[r], "box") for r in reasons])))
        meanings = pd.DataFrame({"reason": order, "rows": by_reason.to_numpy(),
                                 "submissions": [quarantine.loc[quarantine["reason"] == r, "submission_id"].nunique() for r in order],
                                 "meaning": [REASONS[r].meaning if r in REASONS else "" for r in order]})
        out.append(_table(meanings, [("reason", "Reason", lambda v: f"<code>{esc(v)}</code>"), ("rows", "Rows", _n()),
                                     ("submissions", "Submissions", _n()), ("meaning", "Meaning", None)],
                          numeric=("rows", "submissions")))
    else:
        out.append("<p>No quarantined rows.</p>")
    if warnings is not None and len(warnings):
        by_reason = warnings["reason"].astype(str).value_counts()
        out.append("<h3>Warnings by reason</h3>" + _figure(
            hbar_chart(by_reason.index.tolist(), [("rows", by_reason.astype(float).tolist(), "#E69F00")],
                       label="Warnings by reason", width=900),
            "Warnings keep the row in the calculation; they point a supervisor at visits worth a back-check."))
    return "".join(out)


def _charts(info: dict[str, str], tables: dict[str, pd.DataFrame]) -> str:
    methodology = info.get("methodology")
    parts = _cookstove_charts(tables) if methodology == COOKSTOVES else _tree_charts(tables) if methodology == TREES else []
    body = "".join(parts) or "<p>No charts for this methodology.</p>"
    return f'<section id="charts" class="major"><h2>§ Charts</h2>{body}</section>'


def _parameter_tables(info: dict[str, str], tables: dict[str, pd.DataFrame]) -> str:
    params = tables.get("parameters", pd.DataFrame(columns=["name", "value", "unit", "source"]))
    rows = []
    for row in params.itertuples(index=False):
        n = note(str(row.name))
        rows.append({"parameter": f"<code>{esc(row.name)}</code><div class=\"small\">{esc(n.description)}; "
                                  f"purpose: {esc(n.purpose)}</div>",
                     "unit": row.unit, "value": row.value, "source": row.source, "monitored": n.monitored, "qaqc": n.qaqc})
    fixed = _table(pd.DataFrame(rows, columns=["parameter", "unit", "value", "source", "monitored", "qaqc"]),
                   [("parameter", "Data / parameter", lambda v: str(v)), ("unit", "Unit", None),
                    ("value", "Value applied", _n(8)), ("source", "Source of data", None),
                    ("monitored", "Measurement method, frequency", None), ("qaqc", "QA/QC", None)], numeric=("value",))
    steps = _steps(tables)
    monitored = []
    methodology = info.get("methodology")
    if methodology == COOKSTOVES:
        dy = steps[(steps["name"] == "device_years") & steps["scope"].str.fullmatch(r"vintage=\d+")]
        dy_text = "; ".join(f"{s.split('=')[1]}: {num(v, 6)}" for s, v in zip(dy["scope"], dy["value"]))
        stoves = tables.get("stove_distribution")
        met = _step(steps, "usage_meets_precision_target") >= 1
        monitored = [("stoves_registered", "count", f"{len(stoves):,}" if stoves is not None else "–",
                      "distribution app (accepted records)", "continuous"),
                     ("device_years", "device-years", dy_text or "–", "computed from the register", "per monitoring period"),
                     ("usage_rate_applied", "fraction", f"{num(_step(steps, 'usage_rate_applied'), 6)} "
                      f"({'point estimate' if met else 'lower bound, 90/10 not met'}; n = {num(_step(steps, 'usage_sample_size'))})",
                      "usage survey", "annual")]
    elif methodology == TREES:
        strata = tables.get("strata")
        if strata is not None:
            def per(column: str, fmt: Callable[[object], str]) -> str:
                return "; ".join(f"{s}: {fmt(v)}" for s, v in zip(strata["species_code"], strata[column]))
            monitored = [("n_planted", "count", per("n_planted", num), "planting and bund census", "per monitoring period"),
                         ("mortality", "fraction", per("mortality", lambda v: _pct(v)), "survival census",
                          "per monitoring period"),
                         ("mean_carbon_t", "t C per tree", per("mean_carbon_t", lambda v: num(v, 4)),
                          "tree measurements", "per monitoring period")]
    m_rows = []
    for name, unit, value, source, frequency in monitored:
        n = MONITORED[name]
        m_rows.append({"parameter": f"<code>{esc(name)}</code><div class=\"small\">{esc(n.description)}</div>",
                       "unit": unit, "value": esc(value), "source": f"{esc(source)}; {esc(frequency)}",
                       "monitored": n.monitored, "qaqc": n.qaqc})
    d2 = _table(pd.DataFrame(m_rows, columns=["parameter", "unit", "value", "source", "monitored", "qaqc"]),
                [("parameter", "Data / parameter", lambda v: str(v)), ("unit", "Unit", None),
                 ("value", "Value(s) applied", lambda v: str(v)), ("source", "Source, frequency", lambda v: str(v)),
                 ("monitored", "Measurement method and procedures", None), ("qaqc", "QA/QC", None)]) if m_rows else ""
    return (f'<section id="parameters" class="major"><h2>§ Data and parameters</h2>'
            f"<h3>D.1 Parameters fixed ex ante</h3>{fixed}"
            + (f"<h3>D.2 Monitored parameters</h3>{d2}" if d2 else "") + "</section>")


def _chain(tables: dict[str, pd.DataFrame]) -> str:
    steps = _steps(tables)
    if steps.empty:
        return '<section id="chain"><h2>§ Calculation chain</h2><p>No calculation steps.</p></section>'
    steps = steps.sort_values("step_no") if "step_no" in steps else steps
    previous = {"scope": None}

    def scope_class(row: pd.Series) -> str:
        start = previous["scope"] is not None and row["scope"] != previous["scope"]
        previous["scope"] = row["scope"]
        return "scope-start" if start else ""

    columns = [("step_no", "#", _n()), ("name", "Step", lambda v: f"<code>{esc(v)}</code>"), ("symbol", "Symbol", None),
               ("scope", "Scope", None), ("value", "Value", _n(7)), ("unit", "Unit", None),
               ("equation", "Equation", None), ("reference", "Reference", lambda v: f'<span class="small">{esc(v)}</span>')]
    columns = [c for c in columns if c[0] in steps.columns]
    return (f'<section id="chain" class="major"><h2>§ Calculation chain</h2>'
            f"<p>Every intermediate value in the order it is computed ({len(steps)} steps), with its equation and "
            "reference — the <code>calculation_steps</code> table. Full precision is kept through the chain; only "
            "issuance is floored.</p>" + _table(steps, columns, numeric=("step_no", "value"), row_class=scope_class)
            + "</section>")


def _quality(tables: dict[str, pd.DataFrame]) -> str:
    return f'<section id="quality" class="major"><h2>§ Data quality</h2>{_quality_charts(tables)}</section>'


def _site_visits(tables: dict[str, pd.DataFrame]) -> str:
    sample = tables.get("site_visit_sample")
    if sample is None or sample.empty:
        return ""
    first = sample.iloc[0]
    columns = [(c, h, f) for c, h, f in [
        ("visit_no", "#", _n()), ("stratum", "Stratum", None), ("unit_type", "Unit", None), ("unit_id", "Id", None),
        ("household_id", "Household", None), ("plot_id", "Plot", None), ("latitude", "Latitude", _n(8)),
        ("longitude", "Longitude", _n(8)), ("stratum_size", "N_h", _n()), ("stratum_sample", "n_h", _n())]
        if c in sample.columns and sample[c].notna().any()]
    return (f'<section id="site-visits" class="major"><h2>§ Site-visit sample</h2>'
            f"<p>{len(sample)} units drawn with seed <code>{esc(first['seed'])}</code> (requested n = "
            f"{esc(first['n_requested'])}) by <code>mrv sample</code>: stratified by {esc(first['stratified_by'])}, "
            "proportional allocation with at least one per stratum, numpy <code>default_rng(seed)</code> over the "
            "accepted rows sorted by id. The same seed gives the same list.</p>"
            + _table(sample, columns, numeric=("visit_no", "latitude", "longitude", "stratum_size", "stratum_sample"))
            + "</section>")


def _lineage(tables: dict[str, pd.DataFrame]) -> str:
    batches = tables.get("batches")
    if batches is None or batches.empty:
        return ""
    columns = [("source_file", "File", None), ("form", "Form", None), ("flavour", "Flavour", None),
               ("uploaded_at", "Uploaded", lambda v: esc(str(v)[:19])), ("rows_read", "Rows", _n()),
               ("accepted", "Accepted", _n()), ("duplicates", "Duplicates", _n()), ("quarantined", "Quarantined", _n()),
               ("warned", "Warned", _n()), ("sha256", "SHA-256", lambda v: f'<code title="{esc(v)}">{esc(str(v)[:16])}…</code>')]
    return ('<section id="lineage"><h2>§ Uploads behind the numbers</h2>'
            "<p>Every survey row in the package carries <code>batch_id</code>, <code>source_file</code> and "
            "<code>source_row</code>; the batches are:</p>"
            + _table(batches, columns, numeric=("rows_read", "accepted", "duplicates", "quarantined", "warned"))
            + "</section>")


INCOMPLETE = "could not be drawn from this package's tables"


def _guarded(section: Callable[..., str], *arguments: object) -> str:
    """A section, or a visible note when the package lacks a column it needs (an older or partial package)."""
    try:
        return section(*arguments)
    except KeyError as exc:
        name = section.__name__.strip("_").replace("_", " ")
        return f'<section><h2>§ {esc(name.capitalize())}</h2><p class="warning">This section {INCOMPLETE} ' \
               f"(missing {esc(exc)}).</p></section>"


def render_report(tables: dict[str, pd.DataFrame]) -> str:
    """The whole page, from the package's tables (``report_info`` gives project, period and versions)."""
    info_frame = tables.get("report_info", pd.DataFrame(columns=["key", "value"]))
    info = {str(k): ("" if _missing(v) else str(v)) for k, v in zip(info_frame["key"], info_frame["value"])}
    sections = [("summary", "Summary"), ("article6", "Article 6"), ("map", "Map"), ("sampling", "Sampling"),
                ("charts", "Charts"), ("parameters", "Parameters"), ("chain", "Calculation chain"),
                ("quality", "Data quality")]
    if "site_visit_sample" in tables:
        sections.append(("site-visits", "Site visits"))
    if "batches" in tables:
        sections.append(("lineage", "Uploads"))
    parts = [(_header, (info, tables)), (_nav, (sections,)), (_summary, (info, tables)), (_article6, (tables,)),
             (_map, (info, tables)), (_sampling, (info, tables)), (_charts, (info, tables)),
             (_parameter_tables, (info, tables)), (_chain, (tables,)), (_quality, (tables,)), (_site_visits, (tables,)),
             (_lineage, (tables,))]
    body = [_guarded(function, *arguments) for function, arguments in parts]
    numbered = "".join(body).split("<h2>§ ")
    page = numbered[0] + "".join(f"<h2>{i}. {part}" for i, part in enumerate(numbered[1:], start=1))
    title = f"Monitoring report {info.get('project_id', '')} {info.get('period_id', '')}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            + page
            + f"<footer>Field MRV {esc(info.get('code_version', ''))} · generated {esc(info.get('generated_at', ''))} · "
              "open report.duckdb with <code>duckdb report.duckdb</code> to query every table.</footer>"
              "</main></body></html>\n")
