"""Fairness audits: group attributes (with consent), per-group outcomes and model quality
with confidence intervals, item bias, threshold alerts, and model cards."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, select

from masterypath.domain.alerts import AlertDraft, AlertKind
from masterypath.domain.audit import Interval, detect_dif, mean_interval, prediction_quality, wilson
from masterypath.domain.evidence import check_text
from masterypath.domain.models.responses import Responses
from masterypath.domain.policy import Status
from masterypath.errors import ValidationError
from masterypath.services.context import ServiceContext
from masterypath.services.knowledge_tracing import cross_validate
from masterypath.services.mastery import MasteryService
from masterypath.store.mastery import MasteryRepository
from masterypath.store.tables import (
    EvidenceCompetencyRow,
    EvidenceRow,
    GroupAttributeRow,
    MasteryStateRow,
    ModelVersionRow,
    OverrideRow,
)

ATTRIBUTE_NAME_MAX = 64
VALUE_MAX = 128
STATUS_RANK = {
    Status.NOT_STARTED: 0,
    Status.INSUFFICIENT_EVIDENCE: 1,
    Status.IN_PROGRESS: 1,
    Status.NEEDS_REVIEW: 2,
    Status.PROFICIENT: 2,
    Status.MASTERED: 3,
}


@dataclass(frozen=True)
class AuditThresholds:
    """Gaps between groups that raise an alert for educators and administrators."""

    mastery_rate_gap: float = 0.10
    """Mastery rate among learner-competency pairs with at least ``evidence_floor`` pieces
    of evidence (so that a gap is not just a difference in practice)."""
    calibration_gap: float = 0.05
    """Expected calibration error of one group minus another's."""
    evidence_floor: int = 10

    def __post_init__(self) -> None:
        for name in ("mastery_rate_gap", "calibration_gap"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:  # a NaN gap would silently raise no alert at all
                raise ValidationError(name, f"must be in [0, 1], got {value}")
        if self.evidence_floor < 1:
            raise ValidationError(
                "evidence_floor", f"must be at least 1, got {self.evidence_floor}"
            )


def _interval(x: Interval | None) -> dict[str, float | None] | None:
    if x is None:
        return None

    def clean(v: float) -> float | None:
        return None if not math.isfinite(v) else round(float(v), 6)

    return {"value": clean(x.value), "low": clean(x.low), "high": clean(x.high)}


class AuditService:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    # -- attributes ------------------------------------------------------------------------
    def set_attributes(
        self, attribute: str, values: dict[str, str], *, consent_by: dict[str, str]
    ) -> int:
        """Store ``learner -> group value`` for one attribute; every learner needs a consent
        record (who consented), or nothing is stored."""
        check_text(attribute, "attribute", ATTRIBUTE_NAME_MAX)
        missing = sorted(k for k in values if not consent_by.get(k, "").strip())
        if missing:
            raise ValidationError(
                "consent_by",
                f"no consent recorded for {len(missing)} learner(s), e.g. {missing[0]!r}; "
                "group attributes are stored only with consent",
            )
        for learner, value in values.items():
            check_text(learner, "learner_id")
            check_text(str(value), f"value of learner {learner!r}", VALUE_MAX)
            check_text(consent_by[learner], f"consent_by of learner {learner!r}")
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            ids = list(values)
            # serialised per learner (as evidence is): two writers of one learner's value
            # would both delete nothing and both insert, and the primary key refuse one
            MasteryRepository(session).lock_learners(ids, now=now)
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                session.execute(
                    delete(GroupAttributeRow).where(
                        GroupAttributeRow.attribute == attribute,
                        GroupAttributeRow.learner_id.in_(part),
                    )
                )
            session.add_all(
                GroupAttributeRow(
                    learner_id=k,
                    attribute=attribute,
                    value=str(v),
                    consent_recorded_at=now,
                    consent_by=consent_by[k],
                )
                for k, v in values.items()
            )
        return len(values)

    def withdraw(self, attribute: str, learner_ids: Iterable[str]) -> int:
        """Consent withdrawn: the attribute is deleted for these learners."""
        ids = list(learner_ids)
        with self.context.sessions.begin() as session:
            result = session.execute(
                delete(GroupAttributeRow).where(
                    GroupAttributeRow.attribute == attribute, GroupAttributeRow.learner_id.in_(ids)
                )
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def groups(self, attribute: str) -> dict[str, str]:
        with self.context.sessions() as session:
            rows = session.execute(
                select(GroupAttributeRow.learner_id, GroupAttributeRow.value).where(
                    GroupAttributeRow.attribute == attribute
                )
            )
            return {k: v for k, v in rows}

    # -- the audit -------------------------------------------------------------------------
    def _ledger(self, framework_id: str) -> pd.DataFrame:
        with self.context.sessions() as session:
            framework = MasteryService(self.context).framework(session, framework_id)
            rows = session.execute(
                select(
                    EvidenceRow.id,
                    EvidenceRow.learner_id,
                    EvidenceCompetencyRow.competency_id,
                    EvidenceRow.item_id,
                    EvidenceRow.score,
                    EvidenceRow.outcome_type,
                )
                .join(EvidenceCompetencyRow, EvidenceCompetencyRow.evidence_id == EvidenceRow.id)
                .where(EvidenceCompetencyRow.competency_id.in_(list(framework.ids)))
                .order_by(EvidenceRow.learner_id, EvidenceRow.id)
            ).all()
        return pd.DataFrame(
            rows, columns=["order", "user", "skill", "item", "score", "outcome_type"]
        )

    def run(
        self,
        framework_id: str,
        attribute: str,
        *,
        min_group: int = 20,
        thresholds: AuditThresholds | None = None,
        model: str = "bkt",
        folds: int = 5,
        seed: int = 0,
        dif: bool = True,
        dif_min_per_group: int | None = None,
        raise_alerts: bool = True,
    ) -> dict[str, Any]:
        """Audit one framework by one attribute. Groups with fewer than ``min_group``
        learners are suppressed (reported only as suppressed). Model quality is measured on
        held-out learners (student-level ``folds``-fold cross-validation of ``model``). Items
        are tested for bias when each group has ``dif_min_per_group`` (default
        ``max(min_group, 50)``) learners who answered them."""
        if min_group < 1:
            raise ValidationError("min_group", "must be >= 1")
        thresholds = thresholds or AuditThresholds()
        rng = np.random.default_rng(seed)
        group_of = self.groups(attribute)
        if not group_of:
            raise ValidationError("attribute", f"no consented values stored for {attribute!r}")
        sizes = pd.Series(group_of).value_counts()
        kept = sorted(str(g) for g, n in sizes.items() if n >= min_group)
        suppressed = sorted(str(g) for g, n in sizes.items() if n < min_group)
        with self.context.sessions() as session:
            MasteryService(self.context).framework(session, framework_id)
            states = session.execute(
                select(
                    MasteryStateRow.learner_id,
                    MasteryStateRow.competency_id,
                    MasteryStateRow.status,
                    MasteryStateRow.state,
                ).where(MasteryStateRow.framework_id == framework_id)
            ).all()
            overrides = session.execute(
                select(OverrideRow.learner_id, OverrideRow.status, OverrideRow.model_status).where(
                    OverrideRow.framework_id == framework_id
                )
            ).all()
        st = pd.DataFrame(
            [
                (
                    learner,
                    cid,
                    status,
                    s.get("n_evidence", 0),
                    s.get("opportunities_to_mastery"),
                    _hours(s.get("first_evidence_at"), s.get("mastered_at")),  # type: ignore[arg-type]
                )
                for learner, cid, status, s in states
            ],
            columns=["learner", "competency", "status", "n_evidence", "to_mastery", "hours"],
        )
        st["group"] = st["learner"].map(group_of)
        st = st[st["group"].isin(kept)]
        st["mastered"] = st["status"] == Status.MASTERED.value
        groups: dict[str, Any] = {}
        for g in kept:
            part = st[st["group"] == g]
            floor = part[part["n_evidence"] >= thresholds.evidence_floor]
            ov = [(s, m) for learner, s, m in overrides if group_of.get(learner) == g]
            up = sum(STATUS_RANK[Status(s)] > STATUS_RANK[Status(m)] for s, m in ov)
            groups[g] = {
                "learners": int(sizes[g]),
                "states": len(part),
                "mastery_rate": _interval(wilson(int(part["mastered"].sum()), len(part))),
                "mastery_rate_given_evidence": _interval(
                    wilson(int(floor["mastered"].sum()), len(floor))
                ),
                "evidence_to_mastery": _interval(
                    mean_interval(part["to_mastery"].dropna().tolist())
                ),
                "hours_to_mastery": _interval(mean_interval(part["hours"].dropna().tolist())),
                "override_rate": _interval(wilson(len(ov), len(part))),
                "overrides_up": up,
                "overrides_down": len(ov) - up,
            }
        ledger = self._ledger(framework_id)
        ledger["group"] = ledger["user"].map(group_of)
        rubric = ledger[(ledger["outcome_type"] == "rubric") & ledger["group"].isin(kept)]
        for g in kept:
            scores = rubric.loc[rubric["group"] == g, "score"].tolist()
            groups[g]["feedback_score"] = _interval(mean_interval(scores)) if scores else None
        quality = self._model_quality(ledger, group_of, kept, model, folds, seed, rng)
        for g in kept:
            groups[g]["model"] = quality.get(g)
        per_competency = self._per_competency(st, kept, min_group)
        per_item = dif_min_per_group or max(min_group, 50)
        dif_items = self._dif(ledger, group_of, kept, per_item) if dif and len(kept) >= 2 else []
        gaps = _gaps(groups)
        report = {
            "framework_id": framework_id,
            "attribute": attribute,
            "generated_at": self.context.clock().isoformat(),
            "min_group": min_group,
            "thresholds": thresholds.__dict__,
            "model": {
                "name": model,
                "folds": folds,
                "seed": seed,
                "note": "AUC and ECE on held-out learners (student-level cross-validation)",
            },
            "groups": groups,
            "suppressed_groups": suppressed,
            "gaps": gaps,
            "per_competency": per_competency,
            "dif": dif_items,
        }
        report["alerts"] = self._alerts(framework_id, report, thresholds, raise_alerts)
        return report

    def _model_quality(
        self,
        ledger: pd.DataFrame,
        group_of: dict[str, str],
        kept: list[str],
        model: str,
        folds: int,
        seed: int,
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        frame = ledger[ledger["outcome_type"] != "rubric"].copy()
        frame = frame[frame["user"].map(group_of).isin(kept)]
        if frame.empty or frame["user"].nunique() < folds:
            return {}
        frame["correct"] = (frame["score"] >= 0.5).astype(int)
        has_items = frame["item"].notna().all()
        responses = Responses.from_frame(
            frame[["user", "skill", "correct", "order"] + (["item"] if has_items else [])],
            item="item" if has_items else None,
        )
        held = cross_validate(model, responses, folds=folds, seed=seed).held_out
        assert held is not None
        y, p, learners = held
        groups = np.array([group_of[str(x)] for x in learners])
        quality = prediction_quality(y, p, groups, learners.astype(str), rng=rng, n_boot=200)
        return {
            g: {k: _interval(v) for k, v in q.items()} | {"responses": int((groups == g).sum())}
            for g, q in quality.items()
        }

    @staticmethod
    def _per_competency(st: pd.DataFrame, kept: list[str], min_group: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cid, part in st.groupby("competency", sort=True):
            row = {}
            for g in kept:
                cell = part[part["group"] == g]
                row[g] = (
                    {"learners": len(cell), "suppressed": True}
                    if len(cell) < min_group
                    else {
                        "learners": len(cell),
                        "mastery_rate": _interval(wilson(int(cell["mastered"].sum()), len(cell))),
                    }
                )
            out[str(cid)] = row
        return out

    @staticmethod
    def _dif(
        ledger: pd.DataFrame, group_of: dict[str, str], kept: list[str], min_group: int
    ) -> list[dict[str, Any]]:
        frame = ledger[ledger["item"].notna() & (ledger["outcome_type"] != "rubric")]
        first = frame.drop_duplicates(["user", "item"], keep="first")
        responses = pd.DataFrame(
            {
                "learner": first["user"],
                "item": first["item"],
                "correct": (first["score"] >= 0.5).astype(int),
            }
        )
        sizes = {g: sum(1 for v in group_of.values() if v == g) for g in kept}
        reference = sorted(kept, key=lambda g: (-sizes[g], g))[0]  # largest; ties: first by name
        ref_learners = {k for k, v in group_of.items() if v == reference}
        out = []
        for focal in (g for g in kept if g != reference):
            focal_learners = {k for k, v in group_of.items() if v == focal}
            for r in detect_dif(responses, focal_learners, ref_learners, min_per_group=min_group):
                out.append({"reference": reference, "focal": focal, **r.to_dict()})
        return out

    def _alerts(
        self, framework_id: str, report: dict[str, Any], thresholds: AuditThresholds, store: bool
    ) -> list[dict[str, Any]]:
        run = str(uuid.uuid4())
        drafts = []
        gaps = report["gaps"]
        attribute = report["attribute"]
        mastery = gaps.get("mastery_rate_given_evidence")
        if mastery and mastery["gap"] >= thresholds.mastery_rate_gap:
            drafts.append(
                AlertDraft(
                    AlertKind.AUDIT_MASTERY_GAP,
                    "(audit)",
                    "",
                    f"audit:{run}",
                    f"{attribute}: mastery rate (pairs with >= {thresholds.evidence_floor} "
                    f"pieces of evidence) {mastery['high_group']} {mastery['high']:.1%} vs "
                    f"{mastery['low_group']} {mastery['low']:.1%}",
                    "Review the policy and the items of the competencies with the largest gaps "
                    "(per-competency table of the audit report).",
                )
            )
        calibration = gaps.get("ece")
        if calibration and calibration["gap"] >= thresholds.calibration_gap:
            drafts.append(
                AlertDraft(
                    AlertKind.AUDIT_CALIBRATION_GAP,
                    "(audit)",
                    "",
                    f"audit:{run}",
                    f"{attribute}: calibration error {calibration['high_group']} "
                    f"{calibration['high']:.3f} vs {calibration['low_group']} "
                    f"{calibration['low']:.3f}",
                    "The model's estimates are less reliable for one group: refit with more of its "
                    "data, or hold decisions for educator review.",
                )
            )
        for item in report["dif"]:
            if item["flagged"]:
                drafts.append(
                    AlertDraft(
                        AlertKind.AUDIT_ITEM_DIF,
                        "(audit)",
                        str(item["item"]),
                        f"audit:{run}",
                        f"{attribute}: item {item['item']} may be biased ({item['reason']})",
                        "Review the item's wording and context with the group in mind; retire or "
                        "revise it if the difference is not part of what it should measure.",
                    )
                )
        report["alerts_cleared"] = (
            self._store_alerts(framework_id, attribute, drafts, _examined(report, thresholds), run)
            if store
            else []
        )
        return [
            {
                "kind": str(d.kind),
                "subject": d.competency_id,
                "message": d.message,
                "suggested_action": d.suggested_action,
            }
            for d in drafts
        ]

    def _store_alerts(
        self,
        framework_id: str,
        attribute: str,
        drafts: list[AlertDraft],
        examined: dict[tuple[str, str], str],
        run: str,
    ) -> list[dict[str, str]]:
        """Store the findings not open already (one open alert per finding, however often
        the audit runs), and clear the open alerts of ``attribute`` whose finding this run
        examined and no longer finds; what was cleared."""
        now = self.context.clock()
        found = {(str(d.kind), d.competency_id) for d in drafts}
        cleared = []
        with self.context.sessions.begin() as session:
            repo = MasteryRepository(session)
            open_alerts = repo.open_audit_alerts(framework_id, attribute)
            still_open = {(a.kind, a.competency_id) for a in open_alerts}
            repo.add_alerts(
                framework_id,
                [d for d in drafts if (str(d.kind), d.competency_id) not in still_open],
                now=now,
            )
            for alert in open_alerts:
                finding = (alert.kind, alert.competency_id)
                if finding in found or finding not in examined:
                    continue  # found again, or not looked at this time (too few learners)
                reason = examined[finding]
                repo.clear_alert(alert.id, at=now, by=f"audit:{run}", reason=reason)
                subject = alert.competency_id
                cleared.append({"kind": alert.kind, "subject": subject, "reason": reason})
        return cleared

    # -- model cards -----------------------------------------------------------------------
    def model_card(
        self,
        framework_id: str,
        *,
        version: int | None = None,
        attribute: str | None = None,
        min_group: int = 20,
        folds: int = 5,
        seed: int = 0,
    ) -> dict[str, Any]:
        """What a fitted model version is, what it was fitted on, how well it predicts
        (held-out learners, overall and per group) and its known limits."""
        with self.context.sessions() as session:
            MasteryService(self.context).framework(session, framework_id)
            stmt = select(ModelVersionRow).where(ModelVersionRow.framework_id == framework_id)
            stmt = (
                stmt.where(ModelVersionRow.id == version)
                if version is not None
                else stmt.where(ModelVersionRow.active.is_(True)).order_by(
                    ModelVersionRow.id.desc()
                )
            )
            row = session.scalars(stmt).first()
            if row is None:
                raise ValidationError(
                    "version",
                    f"no {'such' if version else 'active'} model version for "
                    f"{framework_id!r}; run `masterypath refit {framework_id}`",
                )
            payload, meta = dict(row.payload), (row.id, row.name, row.n_rows, row.created_at)
        hp: dict[str, Any] = dict(payload.get("hyperparameters") or {})  # type: ignore[call-overload]
        name = meta[1]
        if name == "bkt":
            name = (
                "bkt-idem" if hp.get("multigs") else "bkt-forgets" if hp.get("forgets") else "bkt"
            )
        ledger = self._ledger(framework_id)
        frame = ledger[ledger["outcome_type"] != "rubric"].copy()
        frame["correct"] = (frame["score"] >= 0.5).astype(int)
        has_items = frame["item"].notna().all()
        responses = Responses.from_frame(
            frame[["user", "skill", "correct", "order"] + (["item"] if has_items else [])],
            item="item" if has_items else None,
        )
        evaluation = cross_validate(name, responses, folds=folds, seed=seed)
        card: dict[str, Any] = {
            "model_version": meta[0],
            "model": name,
            "created_at": meta[3].isoformat(),
            "hyperparameters": hp,
            "training_data": {
                "framework_id": framework_id,
                "rows": meta[2],
                "learners": int(frame["user"].nunique()),
                "competencies": int(frame["skill"].nunique()),
                "items": int(frame["item"].nunique()) if has_items else 0,
            },
            "evaluation": {
                "protocol": f"student-level {folds}-fold cross-validation, seed {seed}",
                **evaluation.metrics,
            },
            "intended_use": (
                "Estimate, per learner and competency, the probability that the competency is "
                "mastered, to support (not replace) educators' decisions about progression."
            ),
            "known_limits": KNOWN_LIMITS.get(name.split("-")[0], []),
        }
        if attribute is not None and evaluation.held_out is not None:
            group_of = self.groups(attribute)
            y, p, learners = evaluation.held_out
            groups = np.array([group_of.get(str(x), "(no consent)") for x in learners])
            sizes = pd.Series({k: v for k, v in group_of.items()}).value_counts()
            quality = prediction_quality(
                y, p, groups, learners.astype(str), rng=np.random.default_rng(seed), n_boot=100
            )
            card["per_group"] = {
                g: (
                    {k: _interval(v) for k, v in q.items()}
                    if sizes.get(g, 0) >= min_group
                    else {"suppressed": True}
                )
                for g, q in quality.items()
                if g != "(no consent)"
            }
        return card


KNOWN_LIMITS = {
    "bkt": [
        "One hidden state per competency: it cannot tell partial mastery from guessing.",
        "Learns no forgetting over time unless fitted with forgets; reviews are scheduled by "
        "FSRS instead.",
        "Parameters are shared by all learners of a competency; a group whose answers follow "
        "another pattern gets a less calibrated estimate (see the per-group figures).",
        "Trained on the evidence in the ledger; a competency with few learners has weakly "
        "determined parameters (bounded: guess and slip below 0.5).",
    ],
    "logistic": [
        "Counts of past successes and failures, not their order: recent struggle weighs as "
        "much as early struggle.",
        "Item difficulties are estimated only for items seen in training.",
    ],
}


def _hours(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 3600


def _gaps(groups: dict[str, Any]) -> dict[str, Any]:
    """Largest difference between groups of each headline figure."""
    out: dict[str, Any] = {}
    figures: dict[str, Callable[[dict[str, Any]], Any]] = {
        "mastery_rate": lambda g: g["mastery_rate"],
        "mastery_rate_given_evidence": lambda g: g["mastery_rate_given_evidence"],
        "auc": lambda g: (g.get("model") or {}).get("auc"),
        "ece": lambda g: (g.get("model") or {}).get("ece"),
    }
    for name, get in figures.items():
        values = {
            g: get(v)["value"] for g, v in groups.items() if get(v) and get(v)["value"] is not None
        }
        if len(values) < 2:
            continue
        hi = max(values, key=lambda k: values[k])
        lo = min(values, key=lambda k: values[k])
        out[name] = {
            "gap": values[hi] - values[lo],
            "high_group": hi,
            "high": values[hi],
            "low_group": lo,
            "low": values[lo],
        }
    return out


def _examined(report: dict[str, Any], thresholds: AuditThresholds) -> dict[tuple[str, str], str]:
    """What an audit looked at and found below its threshold, by (alert kind, subject):
    why an open alert of that finding clears."""
    gaps, examined = report["gaps"], {}
    mastery = gaps.get("mastery_rate_given_evidence")
    if mastery and mastery["gap"] < thresholds.mastery_rate_gap:
        examined[(str(AlertKind.AUDIT_MASTERY_GAP), "")] = (
            f"a later audit finds a mastery-rate gap of {mastery['gap']:.1%}, under "
            f"{thresholds.mastery_rate_gap:.0%}"
        )
    calibration = gaps.get("ece")
    if calibration and calibration["gap"] < thresholds.calibration_gap:
        examined[(str(AlertKind.AUDIT_CALIBRATION_GAP), "")] = (
            f"a later audit finds a calibration gap of {calibration['gap']:.3f}, under "
            f"{thresholds.calibration_gap:.3f}"
        )
    for item in report["dif"]:
        if not item["flagged"]:
            examined[(str(AlertKind.AUDIT_ITEM_DIF), str(item["item"]))] = (
                f"a later audit no longer flags item {item['item']}"
            )
    return examined
