"""The pages: login, a learner's progress map, the educator's cohort grid, a framework.

Each page is a small HTML shell (``templates/base.html``) plus ``static/app.js``, which
reads the API with the bearer token from the login page; the API decides what each caller
may see, so a learner who opens another learner's page gets the API's refusal, shown.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from masterypath.api.paths import SlashSafeRoute

NAV = (
    '<a href="/app/educator">Cohort grid</a> <a href="/docs">API</a> '
    '<a href="/how-it-works">How it works</a> <a href="/app/admin">Accounts</a> '
    '<a href="/app/account">Password</a> '
    '<button type="button" id="logout">Log out</button>'
)
LOGIN = """<h2>Log in</h2>
<form id="login-form" class="panel narrow">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button class="primary" type="submit">Log in</button></p>
<p id="login-message" class="error" role="alert"></p>
</form>
<p>The demo prints its logins when it starts (<code>python3 scripts/dev.py demo</code>).</p>"""
ACCOUNT = """<h2>Change your password</h2>
<p id="first-note" hidden>The password you were given is a first one: choose your own before
going on.</p>
<form id="password-form" class="panel narrow">
<label for="current-password">Current password</label>
<input id="current-password" type="password" autocomplete="current-password" required>
<label for="new-password">New password (at least 8 characters)</label>
<input id="new-password" type="password" autocomplete="new-password" minlength="8" required>
<label for="repeat-password">New password again</label>
<input id="repeat-password" type="password" autocomplete="new-password" required>
<p><button class="primary" type="submit">Change password</button></p>
<p id="password-message" role="alert"></p>
</form>
<p><a id="home" href="/login">Back</a></p>"""
LOADING = '<p aria-busy="true">Loading…</p>'


def embed_url(base: str, learner_id: str, framework_id: str | None, token: str) -> str:
    """The URL of an embed link: the learner's page without navigation, the token in the
    fragment (which browsers never send to a server).

    >>> embed_url("http://host/", "school/42", "sql", "mpe_x")
    'http://host/embed/learner/school%2F42?framework=sql#token=mpe_x'
    """
    query = "" if framework_id is None else "?" + urlencode({"framework": framework_id})
    return f"{base.rstrip('/')}/embed/learner/{quote(learner_id, safe='')}{query}#token={token}"


def lti_page(
    *,
    error: str = "",
    status: int = 200,
    token: str = "",
    role: str = "",
    home: str = "",
    origins: tuple[str, ...] = (),
) -> HTMLResponse:
    """The page an LTI launch lands on: with a ``token`` it keeps the login (and ``role``)
    in this tab and opens ``home``, framed only by the sites of ``origins`` (the
    platforms'); with an ``error`` it says what went wrong (a page with nothing to click,
    which any platform may frame)."""
    if error:
        body = (
            "<h2>The launch did not work</h2>"
            f'<p id="lti-message" class="error" role="alert">{html.escape(error)}</p>'
            "<p>Open masterypath again from your course; if it goes on failing, show this "
            "message to whoever runs your learning platform.</p>"
        )
    else:
        body = '<p id="lti-message" aria-busy="true">Opening masterypath…</p>'
    answer = render(
        "lti",
        "Launch",
        body,
        nav="",
        framed=True,
        origins=() if error else origins,
        token=token,
        role=role,
        home=home,
    )
    answer.status_code = status
    return answer


def registration_page(*, error: str = "", status: int = 200, registered: str = "") -> HTMLResponse:
    """The page a platform's registration of this tool ends on: what was ``registered``
    (its script then tells the platform it is done, which closes it), or the ``error``. It
    has nothing to click, and any platform may frame it (none is registered yet)."""
    if error:
        body = (
            "<h2>The registration did not work</h2>"
            f'<p id="lti-message" class="error" role="alert">{html.escape(error)}</p>'
            "<p>An admin of masterypath can make a new registration link and try again.</p>"
        )
    else:
        body = (
            "<h2>masterypath is registered</h2>"
            f'<p id="lti-message" role="status">{html.escape(registered)}</p>'
            "<p>You can close this window.</p>"
        )
    answer = render(
        "registration", "Registration", body, nav="", framed=True, done="" if error else "1"
    )
    answer.status_code = status
    return answer


def links_page(
    return_url: str, choices: list[tuple[str, str, str]], *, origins: tuple[str, ...]
) -> HTMLResponse:
    """A deep-linking launch's page: each of ``choices`` (title, description, signed
    answer) a button that posts its answer to the platform's ``return_url``, the one site
    besides this one the page's forms may post to."""
    action = html.escape(return_url)
    forms = "".join(
        f'<form method="post" action="{action}" class="panel">'
        f'<input type="hidden" name="JWT" value="{html.escape(answer)}">'
        f'<button class="primary" type="submit">Link {html.escape(title)}</button> '
        f"<span>{html.escape(description)}</span></form>"
        for title, description, answer in choices
    )
    body = "<h2>Add masterypath to your course</h2>" + (
        f"<p>Choose the framework the link opens; its learners' scores go to a column of "
        f"your gradebook.</p>{forms}"
        if choices
        else '<p id="lti-message" role="alert">No framework is stored yet: import one first.</p>'
    )
    parts = urlsplit(return_url)
    policy = APP_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
    )
    return render("links", "Add a link", body, nav="", framed=True, origins=origins, policy=policy)


def _template() -> str:
    return resources.files("masterypath.web").joinpath("templates/base.html").read_text("utf-8")


SAFE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
APP_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)
"""What an app page may load: its own script and style sheet and the API, nothing inline.
Text from a framework or a learner that slipped past escaping still could not run."""
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
"""What a self-contained document (a report, the home page) may do: style itself, and run
no script at all."""
NOT_FRAMED = "frame-ancestors 'none'"
"""An app page may not be shown inside another site's frame (clickjacking: an override or
a login form under a decoy); an embed page is made to be."""


def security_headers(
    policy: str, *, framed: bool = False, origins: tuple[str, ...] = ()
) -> dict[str, str]:
    """The headers every HTML answer carries; a ``framed`` page may be framed by the sites
    of ``origins`` (by any site when there are none).

    >>> security_headers(DOCUMENT_POLICY)["Content-Security-Policy"].endswith(NOT_FRAMED)
    True
    >>> "X-Frame-Options" in security_headers(APP_POLICY, framed=True)
    False
    >>> security_headers(APP_POLICY, framed=True, origins=("https://lms.school.org",))[
    ...     "Content-Security-Policy"].endswith("; frame-ancestors https://lms.school.org")
    True
    """
    if framed:
        ancestors = f"; frame-ancestors {' '.join(origins)}" if origins else ""
        return SAFE_HEADERS | {"Content-Security-Policy": policy + ancestors}
    return SAFE_HEADERS | {
        "Content-Security-Policy": f"{policy}; {NOT_FRAMED}",
        "X-Frame-Options": "DENY",
    }


def render(
    page: str,
    title: str,
    body: str,
    *,
    nav: str = NAV,
    framed: bool = False,
    origins: tuple[str, ...] = (),
    policy: str = APP_POLICY,
    **data: str,
) -> HTMLResponse:
    attributes = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    text = (
        _template()
        .replace("{{title}}", html.escape(title))
        .replace("{{page}}", page)
        .replace("{{data}}", attributes)
        .replace("{{nav}}", nav)
        .replace("{{body}}", body)
    )
    return HTMLResponse(text, headers=security_headers(policy, framed=framed, origins=origins))


def document(text: str) -> HTMLResponse:
    """A self-contained HTML document (a report, the home page): inline styles, no script."""
    return HTMLResponse(text, headers=security_headers(DOCUMENT_POLICY))


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(resources.files("masterypath.web").joinpath("static")))


def pages_router(
    *,
    embed_origins: tuple[str, ...] = (),
    frame_origins: Callable[[], tuple[str, ...]] = tuple,
) -> APIRouter:
    """The pages; an embed link's page may be framed by the sites of ``embed_origins``
    (by any site when there are none), every other page only by the sites
    ``frame_origins`` names at the time (the registered learning platforms, which show a
    launched tool inside their own page), by none when it names none."""
    router = APIRouter(route_class=SlashSafeRoute, include_in_schema=False)

    def app_page(page: str, title: str, body: str, *, nav: str = NAV, **data: Any) -> HTMLResponse:
        origins = frame_origins()
        return render(page, title, body, nav=nav, framed=bool(origins), origins=origins, **data)

    @router.get("/login")
    def login() -> HTMLResponse:
        return app_page("login", "Log in", LOGIN, nav='<a href="/how-it-works">How it works</a>')

    @router.get("/app/learner/{learner_id}")
    def learner(learner_id: str) -> HTMLResponse:
        return app_page("learner", f"Progress of {learner_id}", LOADING, learner=learner_id)

    @router.get("/embed/learner/{learner_id}")
    def embedded_learner(learner_id: str) -> HTMLResponse:
        # an embed link's page: no navigation; the token comes in the URL's fragment
        return render(
            "learner",
            f"Progress of {learner_id}",
            LOADING,
            nav="",
            framed=True,
            origins=embed_origins,
            learner=learner_id,
            embed="1",
        )

    @router.get("/app/account")
    def account() -> HTMLResponse:
        return app_page("account", "Your password", ACCOUNT)

    @router.get("/app/admin")
    def admin() -> HTMLResponse:
        return app_page("admin", "Accounts", LOADING)

    @router.get("/app/educator")
    def educator() -> HTMLResponse:
        return app_page("educator", "Cohort grid", LOADING)

    @router.get("/app/guardian")
    def guardian() -> HTMLResponse:
        return app_page("guardian", "Your learners", LOADING)

    @router.get("/app/framework/{framework_id}")
    def framework(framework_id: str) -> HTMLResponse:
        return app_page("framework", f"Framework {framework_id}", LOADING, framework=framework_id)

    return router
