"""The address this server is reached at from outside, when a proxy stands in front.

Behind a reverse proxy (TLS ended at the proxy, a school's host name), a request reaches
this server as ``http://10.0.0.5:8000``: every URL made from the request (an LTI
launch's ``redirect_uri``, an embed link, the xAPI ``authority``'s home page) would name
that inside address, and a cookie meant for https would be sent as plain http.
:class:`PublicUrl` makes every request read as addressed to ``MASTERYPATH_PUBLIC_URL``
(its scheme and host) before anything else sees it, so they are all made right in one
place. Without the setting the request's own ``Host`` stands.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send


class PublicUrl:
    """ASGI middleware: each HTTP or WebSocket request's scheme and ``Host`` become those
    of ``public_url`` (an origin, ``https://host[:port]``, checked by the settings).

    >>> import asyncio
    >>> seen = {}
    >>> async def app(scope, receive, send): seen.update(scope)
    >>> scope = {"type": "http", "scheme": "http", "server": ("10.0.0.5", 8000),
    ...          "headers": [(b"host", b"10.0.0.5:8000"), (b"accept", b"*/*")]}
    >>> asyncio.run(PublicUrl(app, public_url="https://mastery.school.org")(scope, None, None))
    >>> seen["scheme"], seen["server"], seen["headers"]
    ('https', ('mastery.school.org', 443), [(b'accept', b'*/*'), (b'host', b'mastery.school.org')])
    """

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        parts = urlsplit(public_url)
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("ascii")
        default = 443 if parts.scheme == "https" else 80
        self.server = (parts.hostname or "", parts.port or default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            secure = self.scheme == "https"
            scheme = self.scheme if scope["type"] == "http" else ("wss" if secure else "ws")
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {
                **scope,
                "scheme": scheme,
                "server": self.server,
                "headers": [*headers, (b"host", self.host)],
            }
        await self.app(scope, receive, send)
