"""The text files users hand to the command line: one clear error, naming the file and
the line, for a file that is missing, not UTF-8, or not JSON.

>>> from pathlib import Path
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> (folder / "ok.json").write_bytes(b'\\xef\\xbb\\xbf{"a": 1}')
11
>>> read_json_file(folder / "ok.json")
{'a': 1}
>>> (folder / "latin.csv").write_bytes(b"a,b\\nd\\xe9j\\xe0,1\\n")
11
>>> read_utf8(folder / "latin.csv")
Traceback (most recent call last):
...
masterypath.errors.InvalidInputError: ...latin.csv: 1 problem(s), nothing stored:
  line 2: FILE: not UTF-8 text (byte 0xe9); save the file as UTF-8
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from masterypath.errors import InvalidInputError, Problem
from masterypath.interop import strict_json

MORE_CELLS = "more cells than header columns (a comma in an unquoted value?)"
"""The problem of a CSV row with cells beyond the header (``csv.DictReader`` keeps them
as a list under the key None)."""


def read_utf8(path: Path) -> str:
    """The text of ``path``, UTF-8 (a byte-order mark is allowed and dropped)."""
    source = str(path)
    if not path.is_file():
        raise InvalidInputError(source, [Problem(source, "FILE", "no such file")])
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        reason = f"not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        raise InvalidInputError(source, [Problem(f"line {line}", "FILE", reason)]) from None


def read_json_file(path: Path) -> Any:
    """The JSON value in ``path`` (see :func:`read_utf8`)."""
    text = read_utf8(path)
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            str(path), [Problem(f"line {exc.lineno}", "JSON", exc.msg)]
        ) from None
