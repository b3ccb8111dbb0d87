"""LTI 1.3 launches (``/lti/login``, ``/lti/launch``) and the registered platforms
(``/api/v1/lti/platforms``, admin)."""

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from masterypath.api.errors import status_of
from masterypath.api.paths import SlashSafeRoute
from masterypath.api.schemas import (
    LtiPlatformChangeIn,
    LtiPlatformIn,
    RegistrationLinkIn,
    Text,
)
from masterypath.domain.access import Action, Principal
from masterypath.errors import MasterypathError
from masterypath.services.lti import LOGIN_TTL, LinkChoices, LtiService, Platform
from masterypath.services.lti_grades import LtiGradeService
from masterypath.services.lti_members import LtiMemberService
from masterypath.services.lti_registration import LtiRegistrationService
from masterypath.web.pages import links_page, lti_page, registration_page

Allow = Callable[..., Any]
STATE_COOKIE = "mp_lti_state"
"""Binds a launch to the browser that began it (no login from another's id_token)."""
MAX_FORM_BYTES = 256 * 1024


def lti_router(lti: LtiService, registrations: LtiRegistrationService) -> APIRouter:
    """The two steps of a launch, and a platform's registration of this tool, answered as
    pages (a person's browser is on them)."""
    router = APIRouter(route_class=SlashSafeRoute, prefix="/lti", tags=["lti"])

    async def begin(request: Request) -> Response:
        params = dict(request.query_params) | await _form(request)
        try:
            # a database transaction: in a worker thread, never on the event loop
            url, state = await run_in_threadpool(
                lti.begin_login, params, tool_url=str(request.base_url)
            )
        except MasterypathError as exc:
            return lti_page(error=str(exc), status=status_of(exc))
        answer = RedirectResponse(url, status_code=302)
        secure = request.url.scheme == "https"
        answer.set_cookie(
            STATE_COOKIE,
            state,
            max_age=int(LOGIN_TTL.total_seconds()),
            path="/lti",
            httponly=True,
            secure=secure,
            # the platform posts the launch from its own site: over https the cookie must
            # go with a cross-site POST; plain http (this machine) is same-site or nothing
            samesite="none" if secure else "lax",
        )
        return answer

    # the launch's two steps are a browser's, answered with redirects and pages: not part
    # of the API's OpenAPI description (the README documents them)
    @router.get("/login", response_model=None, include_in_schema=False)
    async def login_by_link(request: Request) -> Response:
        """LTI 1.3 login initiation (a platform's third-party initiated login), its fields
        in the query (``iss``, ``login_hint``, ``target_link_uri``; ``client_id``,
        ``lti_deployment_id``, ``lti_message_hint``): the browser is sent on to the
        platform's authentication URL with a new state and nonce; the state is also set in
        a cookie for ``/lti/launch``. A problem is answered as a page that names it."""
        return await begin(request)

    @router.post("/login", response_model=None, include_in_schema=False)
    async def login_by_form(request: Request) -> Response:
        """The same login initiation, its fields in a form post (as Moodle sends it)."""
        return await begin(request)

    @router.post("/launch", response_class=HTMLResponse, include_in_schema=False)
    async def launch(request: Request) -> HTMLResponse:
        """LTI 1.3 launch: the platform's form post of ``id_token`` and ``state``. A
        resource-link launch logs the user in (an account and cohort made at the first
        launch) and opens their page: a learner's progress map, an educator's cohort grid.
        A deep-linking launch (an instructor adding the tool to a course) shows the
        frameworks to link, each a button that posts the signed answer to the platform."""
        form = await _form(request)
        try:
            # the platform's key set may be fetched over the network, then a transaction
            done = await run_in_threadpool(
                lti.launch,
                form.get("id_token", ""),
                form.get("state", ""),
                browser_state=request.cookies.get(STATE_COOKIE),
                tool_url=str(request.base_url),
            )
        except MasterypathError as exc:
            answer = lti_page(error=str(exc), status=status_of(exc))
        else:
            if isinstance(done, LinkChoices):
                choices = [(c.title, c.description, c.answer) for c in done.choices]
                origins = await run_in_threadpool(lti.frame_origins)
                answer = links_page(done.return_url, choices, origins=origins)
                answer.delete_cookie(STATE_COOKIE, path="/lti")
                return answer
            answer = lti_page(
                token=done.token.token,
                role=done.role.value,
                home=done.home,
                origins=await run_in_threadpool(lti.frame_origins),
            )
        answer.delete_cookie(STATE_COOKIE, path="/lti")
        return answer

    @router.get("/register/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def register(token: str, request: Request) -> HTMLResponse:
        """LTI Dynamic Registration: a platform opens a registration link an admin made
        (``/lti/register/mpr_...``) with ``openid_configuration`` and
        ``registration_token``; this tool registers itself there, records the platform and
        answers a page that tells the platform it is done."""
        try:
            # the platform is called over the network, then a transaction
            platform = await run_in_threadpool(
                registrations.register,
                token,
                dict(request.query_params),
                tool_url=str(request.base_url),
            )
        except MasterypathError as exc:
            return registration_page(error=str(exc), status=status_of(exc))
        deployments = (
            f"deployment {', '.join(platform.deployment_ids)}"
            if platform.deployment_ids
            else "no deployment yet: the first launch names the one an admin adds"
        )
        keyless = (
            " Grades back and deep linking need this tool's key first (MASTERYPATH_LTI_KEY_FILE)."
            if lti.tool_key is None
            else ""
        )
        return registration_page(
            registered=f"Registered with {platform.title} as platform {platform.id} "
            f"(client id {platform.client_id}, {deployments}).{keyless}"
        )

    @router.get("/jwks")
    def key_set() -> dict[str, Any]:
        """This tool's public key (a JWK set) for the platforms: it checks the requests
        that send grades back (empty when ``MASTERYPATH_LTI_KEY_FILE`` is not set)."""
        return lti.tool_key_set()

    return router


def lti_platform_router(
    lti: LtiService,
    grades: LtiGradeService,
    members: LtiMemberService,
    registrations: LtiRegistrationService,
    allow: Allow,
) -> APIRouter:
    router = APIRouter(route_class=SlashSafeRoute, prefix="/lti", tags=["lti"])

    @router.post("/registration-links", status_code=201)
    def make_registration_link(
        request: Request,
        principal: Annotated[Principal, allow(Action.MANAGE_USERS)],
        body: RegistrationLinkIn | None = None,
    ) -> dict[str, Any]:
        """A one-time link (for ``hours``, 24 by default, at most a week) that lets a
        platform register this tool itself (LTI Dynamic Registration): paste it into
        Moodle's "Tool URL" or Canvas's "LTI Registration". The link is shown once."""
        hours = 24.0 if body is None else body.hours
        link = registrations.make_link(by=principal.subject, hours=hours)
        return {
            "url": str(request.base_url).rstrip("/") + link.path,
            "expires_at": link.expires_at.isoformat(),
        }

    @router.get("/tool")
    def tool_urls(
        request: Request, _: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, str]:
        """The values a platform asks of this tool when an admin adds it there: its URL
        (also the target link URI), login initiation URL, launch (redirect) URL and public
        key set URL, at this server's public address (``MASTERYPATH_PUBLIC_URL``, else the
        address this request was sent to)."""
        base = str(request.base_url).rstrip("/")
        return {
            "tool_url": base,
            "login_url": f"{base}/lti/login",
            "launch_url": f"{base}/lti/launch",
            "key_set_url": f"{base}/lti/jwks",
        }

    @router.get("/platforms")
    def list_platforms(_: Annotated[Principal, allow(Action.MANAGE_USERS)]) -> list[dict[str, Any]]:
        """Every registered LTI 1.3 platform."""
        return [p.to_dict() for p in lti.platforms()]

    @router.post("/platforms", status_code=201)
    def register_platform(
        body: LtiPlatformIn, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> dict[str, Any]:
        """Register a platform that may launch this tool (409 if its id, or its issuer
        and client id, are registered already). Give the platform this tool's login URL
        ``/lti/login`` and launch (redirect) URL ``/lti/launch``."""
        lists = {"deployment_ids": tuple(body.deployment_ids)}
        platform = Platform(
            **body.model_dump() | lists | {"service_origins": tuple(body.service_origins)}
        )
        return lti.register(platform, by=principal.subject).to_dict()

    @router.patch("/platforms/{platform_id}")
    def update_platform(
        platform_id: Text,
        body: LtiPlatformChangeIn,
        principal: Annotated[Principal, allow(Action.MANAGE_USERS)],
    ) -> dict[str, Any]:
        """Change a registered platform (the fields given; a list replaces the registered
        one, ``token_url: null`` removes it): the accounts its users launch as, their
        courses and grade links stay. 409 if its issuer and client id become another's."""
        changes = body.model_dump(exclude_unset=True)
        return lti.update(platform_id, changes, by=principal.subject).to_dict()

    @router.post("/grades")
    def send_grades(
        _: Annotated[Principal, allow(Action.MANAGE_USERS)], platform: Text | None = None
    ) -> dict[str, Any]:
        """Send each launched learner's score (competencies mastered of the framework their
        link names) to the platform's gradebook where it changed (LTI Assignment and Grade
        Services); ``platform``: only that platform's. The answer counts the scores sent and
        unchanged, and says which links were skipped or refused, and why."""
        return grades.send_grades(platform).to_dict()

    @router.post("/members")
    def sync_members(
        _: Annotated[Principal, allow(Action.MANAGE_USERS)], platform: Text | None = None
    ) -> dict[str, Any]:
        """Read the members of every course launched from (LTI Names and Role Provisioning
        Services; ``platform``: only that platform's courses): each active learner and
        teacher gets their account and place in the course's cohort before their first
        launch; a learner no longer active leaves the cohort. The answer counts them and
        says which courses were skipped or refused, and why."""
        return members.sync_members(platform).to_dict()

    @router.delete("/platforms/{platform_id}", status_code=204)
    def remove_platform(
        platform_id: Text, principal: Annotated[Principal, allow(Action.MANAGE_USERS)]
    ) -> Response:
        """Forget a platform: its launches stop working; the accounts its users made stay."""
        lti.remove(platform_id, by=principal.subject)
        return Response(status_code=204)

    return router


async def _form(request: Request) -> dict[str, str]:
    """A form post's fields (the first of each name); nothing for another kind of body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method != "POST" or kind != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields
