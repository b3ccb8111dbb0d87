"""JSON over HTTP(S) with the standard library, for the services this server calls (a
learning platform's, a student information system's): an http(s) address only, never a
local file; a refusal, an unreachable server or an answer that is not JSON is a
:class:`RemoteRefusedError` that says which URL and what it answered."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from masterypath.errors import MasterypathError

TIMEOUT_S = 15


class RemoteRefusedError(MasterypathError):
    """A server this one called could not be reached or answered with an error (the
    message says which URL and what it said)."""

    code = "remote_refused"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The server's HTTP status, when it answered with one."""


def exchange(
    request: urllib.request.Request,
    *,
    expect_json: bool,
    refused: type[RemoteRefusedError] = RemoteRefusedError,
) -> tuple[Any, str | None]:
    """The JSON answer to ``request`` (nothing unless ``expect_json``) and its ``Link``
    header; a problem is a ``refused`` error.

    >>> exchange(urllib.request.Request("file:///etc/passwd"), expect_json=True)
    Traceback (most recent call last):
    ...
    masterypath.interop.web_json.RemoteRefusedError: file:///etc/passwd: not an http(s) URL
    """
    url = request.full_url
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        # an answer may name the next page: a web address, never a local file
        raise refused(f"{url}: not an http(s) URL")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            text = response.read()
            link = response.headers.get("Link")
    except urllib.error.HTTPError as exc:
        said = exc.read(500).decode("utf-8", "replace").strip()
        raise refused(f"{url}: {exc.code} {said}".strip(), status=exc.code) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        # ValueError: an address or header the HTTP client cannot send (a bad port, ...)
        raise refused(f"{url}: {exc}") from None
    if not expect_json:
        return {}, link
    try:
        return json.loads(text), link
    except ValueError:
        raise refused(f"{url}: the answer is not JSON") from None


def json_object(
    url: str, answer: Any, refused: type[RemoteRefusedError] = RemoteRefusedError
) -> dict[str, Any]:
    """``answer`` when it is a JSON object, else a ``refused`` error naming ``url``."""
    if not isinstance(answer, dict):
        raise refused(f"{url}: the answer is not a JSON object")
    return answer
