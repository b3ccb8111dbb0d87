"""The fairness audit as a self-contained HTML page (inline SVG charts, no scripts, no
CDN) for educators and administrators.

>>> html = render_audit_html({"framework_id": "f", "attribute": "cohort", "generated_at": "t",
...     "min_group": 20, "groups": {}, "suppressed_groups": ["x"], "gaps": {},
...     "per_competency": {}, "dif": [], "alerts": [], "model": {"note": ""}})
>>> "suppressed" in html and "<svg" not in html
True
"""

from __future__ import annotations

from html import escape
from typing import Any

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
"""Okabe-Ito: distinguishable with the common colour-vision deficiencies."""


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(iv: dict[str, Any] | None, fmt: Any = _pct) -> str:
    if not iv or iv.get("value") is None:
        return "n/a"
    if iv.get("low") is None:
        return str(fmt(iv["value"]))
    return f"{fmt(iv['value'])} [{fmt(iv['low'])}, {fmt(iv['high'])}]"


def bar_chart(
    title: str, bars: list[tuple[str, dict[str, Any] | None]], *, scale: float = 1.0
) -> str:
    """Horizontal bars with 95% interval whiskers; each bar is labelled in text too."""
    shown = [(label, iv) for label, iv in bars if iv and iv.get("value") is not None]
    if not shown:
        return ""
    width, left, row = 560, 170, 28
    height = row * len(shown) + 30
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    span = width - left - 90

    def x(v: float) -> float:
        return left + span * max(0.0, min(v / scale, 1.0))

    for n, (label, iv) in enumerate(shown):
        y = 10 + n * row
        colour = PALETTE[n % len(PALETTE)]
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="13">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{x(iv["value"]) - left:.1f}" height="20" fill="{colour}"/>'
        )
        if iv.get("low") is not None and iv.get("high") is not None:
            lo, hi = x(iv["low"]), x(iv["high"])
            parts.append(
                f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + 10}" y2="{y + 10}" stroke="#000" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{x(iv["value"]) + 6:.1f}" y="{y + 15}" font-size="12">{escape(_ci(iv, _pct if scale == 1.0 else _num))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_audit_html(report: dict[str, Any]) -> str:
    groups = report["groups"]
    rows = "".join(
        "<tr>"
        f"<th scope='row'>{escape(g)}</th><td>{v['learners']}</td><td>{v['states']}</td>"
        f"<td>{_ci(v['mastery_rate'])}</td><td>{_ci(v['mastery_rate_given_evidence'])}</td>"
        f"<td>{_ci(v['evidence_to_mastery'], lambda x: f'{x:.1f}')}</td>"
        f"<td>{_ci(v['override_rate'])} (up {v['overrides_up']}, down {v['overrides_down']})</td>"
        f"<td>{_ci((v.get('model') or {}).get('auc'), _num)}</td>"
        f"<td>{_ci((v.get('model') or {}).get('ece'), _num)}</td>"
        f"<td>{_ci(v.get('feedback_score'))}</td>"
        "</tr>"
        for g, v in groups.items()
    )
    charts = "".join(
        f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>"
        for chart, caption in (
            (
                bar_chart(
                    "Mastery rate by group", [(g, v["mastery_rate"]) for g, v in groups.items()]
                ),
                "Share of learner-competency pairs mastered (95% Wilson interval).",
            ),
            (
                bar_chart(
                    "Mastery rate with at least the evidence floor",
                    [(g, v["mastery_rate_given_evidence"]) for g, v in groups.items()],
                ),
                "The same among pairs with enough evidence: a gap here is not a practice gap.",
            ),
            (
                bar_chart(
                    "Calibration error by group",
                    [(g, (v.get("model") or {}).get("ece")) for g, v in groups.items()],
                    scale=0.2,
                ),
                "Expected calibration error on held-out learners (lower is better; bootstrap interval).",
            ),
        )
        if chart
    )
    flagged = [d for d in report["dif"] if d["flagged"]]
    dif_rows = "".join(
        f"<tr><td>{escape(str(d['item']))}</td><td>{escape(d['focal'])} vs {escape(d['reference'])}</td>"
        f"<td>{d['n_focal']} / {d['n_reference']}</td><td>{_num(d['mh_delta'], 2)}</td><td>{d['ets']}</td>"
        f"<td>{_num(d['mh_q'])}</td><td>{_num(d['lr_nonuniform_q'])}</td><td>{escape(d['reason'])}</td></tr>"
        for d in flagged
    )
    alerts = "".join(
        f"<li><strong>{escape(a['kind'])}</strong>: {escape(a['message'])} — {escape(a['suggested_action'])}</li>"
        for a in report.get("alerts", [])
    )
    suppressed = ", ".join(escape(g) for g in report["suppressed_groups"]) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Fairness audit: {escape(report["framework_id"])} by {escape(report["attribute"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #999; padding: .3rem .5rem; text-align: left; font-size: .9rem; }}
figure {{ margin: 1rem 0; }} figcaption {{ font-size: .85rem; color: #333; }}
</style></head><body>
<h1>Fairness audit of <code>{escape(report["framework_id"])}</code> by <code>{escape(report["attribute"])}</code></h1>
<p>Generated {escape(report["generated_at"])}. Groups with fewer than {report["min_group"]} learners are
suppressed (for privacy and because their figures would be noise): {suppressed}.
{escape(report["model"].get("note", ""))}.</p>
<h2>Alerts</h2><ul>{alerts or "<li>No threshold exceeded.</li>"}</ul>
<h2>By group</h2>
<table><caption>Figures with 95% confidence intervals</caption>
<thead><tr><th scope="col">group</th><th scope="col">learners</th><th scope="col">pairs</th><th scope="col">mastery rate</th>
<th scope="col">mastery rate, enough evidence</th><th scope="col">answers to mastery</th><th scope="col">override rate</th>
<th scope="col">AUC</th><th scope="col">calibration error</th><th scope="col">rubric score</th></tr></thead>
<tbody>{rows}</tbody></table>
{charts}
<h2>Items flagged for review ({len(flagged)} of {len(report["dif"])} tested)</h2>
<p>Mantel-Haenszel with ETS classes (A negligible, B moderate, C large) and logistic-regression
tests for non-uniform bias, matched on ability; q-values control the false discovery rate.</p>
<table><thead><tr><th scope="col">item</th><th scope="col">groups</th><th scope="col">learners (focal / reference)</th>
<th scope="col">MH delta</th><th scope="col">ETS</th><th scope="col">MH q</th><th scope="col">non-uniform q</th>
<th scope="col">why</th></tr></thead><tbody>{dif_rows}</tbody></table>
</body></html>
"""
