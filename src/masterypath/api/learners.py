"""Learners: personal data and consent, export and erasure, cohorts, mastery, overrides,
alerts and plans. Every endpoint names the action it needs (see ``domain/access.py``)."""

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import (
    CohortIn,
    ConsentIn,
    EmbedIn,
    LearnerIn,
    OverrideIn,
    Text,
)
from masterypath.api.security import Guard
from masterypath.domain.access import Action, Principal
from masterypath.errors import NotFoundError
from masterypath.services.accounts import AccountService
from masterypath.services.careers import CareerService
from masterypath.services.mastery import MasteryService
from masterypath.services.privacy import MAX_RETENTION_DAYS, PrivacyService
from masterypath.store.types import INT32_MAX
from masterypath.web.pages import embed_url

Allow = Callable[..., Any]
Limit = Annotated[int, Query(ge=1, le=10_000)]


def learner_router(
    guard: Guard,
    allow: Allow,
    accounts: AccountService,
    privacy: PrivacyService,
    mastery: MasteryService,
    careers: CareerService,
) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute)

    # -- personal data, consent, export, erasure ---------------------------------------------
    @router.post("/learners", status_code=201, tags=["learners"])
    def create_learner(
        body: LearnerIn, principal: Annotated[Principal, allow(Action.MANAGE_LEARNERS)]
    ) -> dict[str, Any]:
        """Store a learner's personal data (name, e-mail, birth date) under a pseudonymous
        id, which is the only id used anywhere else. Writing it again updates it."""
        learner_id = privacy.create_learner(
            learner_id=body.learner_id,
            name=body.name,
            email=body.email,
            birth_date=body.birth_date,
            by=principal.subject,
        )
        return privacy.profile(learner_id)

    @router.get("/learners/{learner_id}", tags=["learners"])
    def get_learner(
        learner_id: Text, _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")]
    ) -> dict[str, Any]:
        """A learner's personal data and consent status (the read is logged)."""
        return privacy.profile(learner_id)

    @router.put("/learners/{learner_id}/guardian-consent", tags=["learners"])
    def put_consent(
        learner_id: Text,
        body: ConsentIn,
        principal: Annotated[Principal, allow(Action.GIVE_CONSENT, "learner_id")],
    ) -> dict[str, Any]:
        """Record a guardian's consent (an admin, a key with ``learners:write``, or the
        learner's guardian account itself); until then a learner under 13 has no evidence
        processed (403 ``consent_required``)."""
        privacy.record_consent(learner_id, body.guardian, by=principal.subject)
        return privacy.profile(learner_id)

    @router.delete("/learners/{learner_id}/guardian-consent", status_code=204, tags=["learners"])
    def delete_consent(
        learner_id: Text,
        principal: Annotated[Principal, allow(Action.GIVE_CONSENT, "learner_id")],
    ) -> Response:
        """Consent withdrawn (by whom may give it): evidence for a learner under 13 is
        refused again."""
        privacy.withdraw_consent(learner_id, by=principal.subject)
        return Response(status_code=204)

    @router.get("/learners/{learner_id}/export", tags=["learners"])
    def export_learner(
        learner_id: Text, _: Annotated[Principal, allow(Action.EXPORT_LEARNER, "learner_id")]
    ) -> dict[str, Any]:
        """Everything stored about the learner, as JSON (the read is logged)."""
        return privacy.export(learner_id)

    @router.delete("/learners/{learner_id}", tags=["learners"])
    def erase_learner(
        learner_id: Text, principal: Annotated[Principal, allow(Action.ERASE_LEARNER)]
    ) -> dict[str, Any]:
        """Erase: personal data, evidence and all derived records are deleted in one
        transaction; a tombstone (counts only) stays in the audit log."""
        return {
            "learner_id": learner_id,
            "deleted": privacy.erase(learner_id, by=principal.subject),
        }

    @router.get("/learners/{learner_id}/access-log", tags=["learners"])
    def access_log(
        learner_id: Text,
        _: Annotated[Principal, allow(Action.READ_LOGS)],
        limit: Limit = 1000,
        offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
    ) -> list[dict[str, Any]]:
        """Who read this learner's records, what and when: oldest first, ``limit`` rows
        after ``offset`` (page on with ``offset`` to reach the latest); ``actor_name`` says
        who by username."""
        rows = privacy.access_log(learner_id, limit=limit, offset=offset)
        names = accounts.names(r["actor"] for r in rows)
        return [{**r, "actor_name": names[r["actor"]]} for r in rows]

    @router.get("/inactive-learners", tags=["learners"])
    def inactive_learners(
        days: Annotated[int, Query(ge=1, le=MAX_RETENTION_DAYS)],
        _: Annotated[Principal, allow(Action.ERASE_LEARNER)],
    ) -> list[dict[str, str]]:
        """The learners with no activity in the last ``days`` days (nothing they did or
        was recorded for them, no read of their records by themselves), the longest
        inactive first, each with ``last_activity``: those a retention rule of ``days``
        days would erase (``DELETE /api/v1/learners/{id}`` each, or ``masterypath
        learners erase-inactive``, which checks each again as it erases)."""
        return [f.to_dict() for f in privacy.inactive(days=days)]

    # -- cohorts ---------------------------------------------------------------------------
    @router.post("/cohorts", status_code=201, tags=["cohorts"])
    def create_cohort(
        body: CohortIn, principal: Annotated[Principal, allow(Action.MANAGE_LEARNERS)]
    ) -> dict[str, str]:
        """A cohort (a class, a group) of learners with its educators."""
        accounts.create_cohort(body.id, body.title, by=principal.subject)
        return {"id": body.id, "title": body.title}

    @router.get("/cohorts", tags=["cohorts"])
    def list_cohorts(
        principal: Annotated[Principal, allow(Action.READ_FRAMEWORK)],
    ) -> list[dict[str, Any]]:
        """Admins see every cohort, educators their own, learners, guardians and keys
        none."""
        if principal.role.value in ("learner", "guardian", "integration", "viewer"):
            return []
        return accounts.cohorts(principal)

    @router.put("/cohorts/{cohort_id}/learners/{learner_id}", status_code=204, tags=["cohorts"])
    def enrol(
        cohort_id: Text,
        learner_id: Text,
        principal: Annotated[Principal, allow(Action.MANAGE_LEARNERS)],
    ) -> Response:
        """Enrol a learner in a cohort (idempotent)."""
        accounts.enrol(cohort_id, learner_id, by=principal.subject)
        return Response(status_code=204)

    @router.delete("/cohorts/{cohort_id}/learners/{learner_id}", status_code=204, tags=["cohorts"])
    def unenrol(
        cohort_id: Text,
        learner_id: Text,
        principal: Annotated[Principal, allow(Action.MANAGE_LEARNERS)],
    ) -> Response:
        """Remove a learner from a cohort."""
        accounts.unenrol(cohort_id, learner_id, by=principal.subject)
        return Response(status_code=204)

    @router.put("/cohorts/{cohort_id}/educators/{user_id}", status_code=204, tags=["cohorts"])
    def assign_educator(
        cohort_id: Text,
        user_id: Text,
        principal: Annotated[Principal, allow(Action.MANAGE_LEARNERS)],
    ) -> Response:
        """Make an educator account responsible for a cohort (idempotent)."""
        accounts.assign_educator(cohort_id, user_id, by=principal.subject)
        return Response(status_code=204)

    @router.post("/learners/{learner_id}/embed-links", status_code=201, tags=["learners"])
    def create_embed_link(
        learner_id: Text,
        body: EmbedIn,
        request: Request,
        principal: Annotated[Principal, allow(Action.EMBED_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """A link that shows this learner's progress map inside another page (an LMS's
        iframe) for ``minutes``, without a login: its token may read frameworks and this
        learner's records, nothing else. The token rides in the URL's fragment, which the
        browser never sends to a server."""
        issued = accounts.create_embed_token(learner_id, by=principal.subject, minutes=body.minutes)
        return {
            "id": issued.id,
            "url": embed_url(str(request.base_url), learner_id, body.framework_id, issued.token),
            "token": issued.token,
            "expires_at": issued.expires_at.isoformat(),
        }

    @router.get("/learners/{learner_id}/embed-links", tags=["learners"])
    def list_embed_links(
        learner_id: Text,
        _: Annotated[Principal, allow(Action.EMBED_LEARNER, "learner_id")],
    ) -> list[dict[str, Any]]:
        """This learner's embed links that still work, oldest first: id, who made it
        (``created_by``, and ``created_by_name``: their username), when, until when. Their
        tokens are not stored and cannot be shown again."""
        links = accounts.embed_links(learner_id)
        names = accounts.names(link.created_by for link in links)
        return [link.to_dict(names) for link in links]

    @router.delete(
        "/learners/{learner_id}/embed-links/{link_id}", status_code=204, tags=["learners"]
    )
    def revoke_embed_link(
        learner_id: Text,
        link_id: Text,
        principal: Annotated[Principal, allow(Action.EMBED_LEARNER, "learner_id")],
    ) -> Response:
        """Stop an embed link before it expires (a link shared too widely, a course that
        ended): its page and token answer 401 from then on. 404 when this learner has no
        such link."""
        accounts.revoke_embed_link(learner_id, link_id, by=principal.subject)
        return Response(status_code=204)

    # -- mastery -----------------------------------------------------------------------------
    @router.get("/learners/{learner_id}/progress", tags=["mastery"])
    def progress(
        learner_id: Text,
        framework_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> list[dict[str, Any]]:
        """Every competency's status for the learner, with its explanation and whether it
        is unlocked (and which prerequisites are missing)."""
        return [p.to_dict() for p in mastery.progress(learner_id, framework_id)]

    @router.get("/learners/{learner_id}/progress/{competency_id}", tags=["mastery"])
    def explanation(
        learner_id: Text,
        competency_id: Text,
        framework_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """One competency's status, explanation and the full evidence trail behind it."""
        item, trail = mastery.explain(learner_id, framework_id, competency_id)
        return {**item.to_dict(), "trail": [asdict(t) for t in trail]}

    @router.get("/learners/{learner_id}/unlocked", tags=["mastery"])
    def unlocked(
        learner_id: Text,
        framework_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
    ) -> list[str]:
        """The competencies whose prerequisites the learner has met."""
        return [p.competency_id for p in mastery.progress(learner_id, framework_id) if p.unlocked]

    @router.get("/learners/{learner_id}/plan", tags=["mastery"])
    def get_plan(
        learner_id: Text,
        framework_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
        goal: Annotated[list[Text] | None, Query()] = None,
        max_steps: Annotated[int, Query(ge=1, le=100)] = 10,
        target_success: Annotated[float, Query(gt=0, lt=1)] = 0.7,
    ) -> dict[str, Any]:
        """The learner's next steps (due reviews, then ready-to-learn competencies toward
        the goals, each with an item and a reason). Without ``goal``, the goals come from
        the learner's career goal when one is chosen."""
        goals = tuple(goal or ()) or careers.goals_for(learner_id, framework_id)
        return mastery.plan(
            learner_id,
            framework_id,
            goals=goals,
            max_steps=max_steps,
            target_success=target_success,
        ).to_dict()

    # -- overrides and alerts --------------------------------------------------------------
    @router.post("/learners/{learner_id}/overrides", status_code=201, tags=["overrides"])
    def create_override(
        learner_id: Text,
        body: OverrideIn,
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """Grant or revoke a status with a reason; it wins over the model until lifted and
        is kept, with what the model said, for the audit trail."""
        return mastery.override(
            learner_id=learner_id,
            framework_id=body.framework_id,
            competency_id=body.competency_id,
            status=body.status,
            reason=body.reason,
            educator=principal.subject,
            note=body.note,
        ).to_dict()

    @router.get("/learners/{learner_id}/overrides", tags=["overrides"])
    def list_overrides(
        learner_id: Text,
        _: Annotated[Principal, allow(Action.READ_LEARNER, "learner_id")],
        framework_id: Text | None = None,
    ) -> list[dict[str, Any]]:
        """The learner's overrides, active and lifted (the audit trail); ``educator_name``
        and ``lifted_by_name`` say who by username (``educator`` and ``lifted_by`` are the
        accounts' stable ids)."""
        found = mastery.overrides(framework_id=framework_id, learner_id=learner_id)
        names = accounts.names(actor for o in found for actor in o.actors)
        return [o.to_dict(names) for o in found]

    @router.delete("/learners/{learner_id}/overrides/{override_id}", tags=["overrides"])
    def lift_override(
        learner_id: Text,
        override_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER, "learner_id")],
    ) -> dict[str, Any]:
        """Lift an override: the model's status applies again."""
        found = [o for o in mastery.overrides(learner_id=learner_id) if o.id == override_id]
        if not found:
            raise NotFoundError("override", str(override_id))
        return mastery.lift_override(override_id, by=principal.subject).to_dict()

    @router.get("/alerts", tags=["alerts"])
    def list_alerts(
        principal: Annotated[Principal, allow(Action.READ_AUDIT)],
        framework_id: Text | None = None,
        learner_id: Text | None = None,
        include_acknowledged: bool = False,
        limit: Limit = 1000,
    ) -> list[dict[str, Any]]:
        """The alert queue: the open alerts, neither acknowledged nor cleared by later
        evidence (a wheel-spinning learner who has mastered the competency, a fallen
        estimate that recovered); ``include_acknowledged``: the closed ones too, with who
        acknowledged each or the evidence that cleared it (``cleared_by_evidence``,
        ``cleared_at``, ``cleared_reason``). Educators see alerts of their cohorts'
        learners only."""
        visible = accounts.visible_learners(principal)
        found = mastery.alerts(
            framework_id=framework_id,
            learner_id=learner_id,
            include_acknowledged=include_acknowledged,
            limit=limit,
            learner_ids=visible,
        )
        return [asdict(a) for a in found]

    @router.post("/alerts/{alert_id}/acknowledge", tags=["alerts"])
    def acknowledge_alert(
        alert_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
        principal: Annotated[Principal, allow(Action.ACT_ON_LEARNER)],
    ) -> dict[str, Any]:
        """Acknowledge an alert (kept for the record)."""
        alert = mastery.alert(alert_id)
        guard.check(principal, Action.ACT_ON_LEARNER, [alert.learner_id])
        mastery.acknowledge_alert(alert_id, by=principal.subject)
        return {"id": alert_id, "acknowledged_by": principal.subject}

    return router
