"""A JSON plan file read up to its `report`, which the runtime never reads.

`reliability plan` writes the report last, and it is most of the file: 10 of the 11 KB per
component of a large plan, 104 MB for 10,000 components, over the 64 MiB a file may have, and
loading the whole took 15 s. `json_head(text, "report")` parses the top-level object's members
one at a time with the `json` module's own decoder and stops at that key: the work is bounded by
what comes before it, so a file larger than the limit is read only as far as the limit, and
loads when its report starts within it. Anything after the report is not read (`reliability
validate` reads the whole file).
"""

from __future__ import annotations

import json
import re

__all__ = ["json_head"]

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    return found.end() if found else at


def json_head(text: str, stop: str) -> dict[str, object] | None:
    """The members of the JSON object `text` before its top-level key `stop` (its value and
    what follows unread); None when `text` is not such an object (malformed, cut off before
    `stop`, or without it): then the caller parses it whole, for its error or its members.

    Duplicate keys keep the last value, in the first one's place, as `json.loads` does."""
    head: dict[str, object] = {}
    at = _skip(text, 0)
    if text[at : at + 1] != "{":
        return None
    at = _skip(text, at + 1)
    try:
        while text[at : at + 1] == '"':
            key, at = _DECODER.raw_decode(text, at)  # a string: the loop's test
            at = _skip(text, at)
            if text[at : at + 1] != ":":
                return None
            at = _skip(text, at + 1)
            if key == stop:
                return head
            head[key], at = _DECODER.raw_decode(text, at)
            at = _skip(text, at)
            if text[at : at + 1] != ",":
                return None  # the end of the object (or an error) before `stop`
            at = _skip(text, at + 1)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return None
    return None
