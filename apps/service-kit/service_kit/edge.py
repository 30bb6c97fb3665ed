"""The API's edge: what every service refuses before its routes see a request, and the one rule
for text fields. RequestContext (middleware.py) applies the request rules; the text rule is a
field's annotation (`text_field`, `refuse_control_characters`).

- A path with a `.` or `..` segment (literal or percent-encoded), an encoded separator (`%2F`,
  `%5C`) or a backslash is 400: routes decide on the decoded path and the gateway forwards the
  path as received, so the two must have the same segments.
- A header that may be sent once (SINGLE_HEADERS) and is sent twice is 400.
- A JSON body with a key repeated in one object is 400 (RFC 8259, 4: names SHOULD be unique;
  RFC 7493, 2.3: MUST be).
- The body must arrive in full within BODY_TIMEOUT_SECONDS of the request's head: 408 and the
  connection is closed.
- A text field refuses every control and format character (TEXT_REFUSED): NUL, C0, DEL, C1,
  bidi marks, embeddings, overrides and isolates, zero-width characters, line and paragraph
  separators.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BeforeValidator, Field, StrictStr, StringConstraints
from pydantic_core import PydanticCustomError

BODY_TIMEOUT_SECONDS = 10.0
"""A request's body must arrive in full within this long after its head; else 408, and the
connection is closed. Total, not per chunk: a client that trickles a byte at a time is bounded
too (the largest body, 64 KiB, needs 6.6 KB/s)."""
HEAD_TIMEOUT_SECONDS = 10.0
"""A request's head must arrive in full within this long of its first byte; else 408, and the
connection is closed (protocol.py)."""
SINGLE_HEADERS = ("idempotency-key",)
"""Headers a request may carry once; sent twice (with the same value or not), 400."""

# Unicode's general categories Cc (controls: C0, DEL, C1), Cf (format: soft hyphen, bidi marks
# U+061C, U+200E, U+200F, embeddings and overrides U+202A-U+202E, isolates U+2066-U+2069,
# zero-width characters U+200B-U+200D, word joiner, BOM, interlinear annotation, tags) and Zl,
# Zp (U+2028, U+2029), as code point ranges: the set of Unicode 15.0 (U+13439-U+1343F became
# Cf there), unchanged in the later data checked (the `regex` package's, 16.0 or later). A
# constant, not `unicodedata`: the same rule and the same published pattern whatever the
# interpreter's Unicode version (Python 3.11: 14.0, the image's 3.12: 15.0);
# tests/apps/test_edge.py holds it to the interpreter's categories.
REFUSED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)


def _class_char(code: int) -> str:
    # `\uXXXX` reads the same in Python's `re` and in ECMA-262 (the dialect of JSON Schema's
    # `pattern`); a character beyond the BMP is written as itself, which both read as one
    # character (ECMA-262 with the `u` flag), where `\U0001xxxx` would be Python's alone.
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


TEXT_REFUSED = "".join(
    _class_char(start) if start == end else f"{_class_char(start)}-{_class_char(end)}"
    for start, end in REFUSED_RANGES
)
"""The refused characters, as the body of a regular-expression class."""
TEXT_PATTERN = f"^[^{TEXT_REFUSED}]*$"
"""Any text without a refused character."""
NON_BLANK_TEXT_PATTERN = f"^[^{TEXT_REFUSED}]*[^\\s{TEXT_REFUSED}][^{TEXT_REFUSED}]*$"
"""Text with at least one character that is not blank (what is left once surrounding blanks
are dropped), and no refused character."""
_REFUSED = re.compile(f"[{TEXT_REFUSED}]")


def _refuse_control_characters(value: Any) -> Any:
    if isinstance(value, str):  # anything else: the field's own type check answers
        found = _REFUSED.search(value)
        if found is not None:
            raise PydanticCustomError(
                "control_character",
                "U+{code} at position {position} is a control or format character",
                {"code": f"{ord(found.group()):04X}", "position": found.start()},
            )
    return value


refuse_control_characters = BeforeValidator(_refuse_control_characters)
"""The text rule as a validator, run on the value as sent (before blanks are stripped), for a
field that publishes its own pattern (an id, a header)."""


def _at_most(limit: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": limit},
            )
        return value

    return check


def text_field(max_length: int, pattern: str = NON_BLANK_TEXT_PATTERN) -> Any:
    """A JSON string field: at most `max_length` characters as sent, none refused (the text
    rule), surrounding blanks dropped, and something left. The schema says exactly that: its
    `maxLength` counts as sent, and `pattern` (by default: not blank, nothing refused) is what
    the field accepts before its blanks are dropped."""
    return Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=1),
        BeforeValidator(_at_most(max_length)),
        refuse_control_characters,
        Field(max_length=max_length, json_schema_extra={"pattern": pattern}),
    ]


_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)


def refused_path(raw_path: bytes) -> str | None:
    """Why a request's path (as sent) is refused, or None: an encoded separator (`%2F`,
    `%5C`), a backslash, or a `.` or `..` segment, literal or percent-encoded (`%2e%2e`)."""
    if _ENCODED_SEPARATOR.search(raw_path):
        return "an encoded / or \\"
    path = unquote(raw_path.decode("latin-1"), encoding="latin-1")
    if "\\" in path:
        return "a backslash"
    if any(segment in (".", "..") for segment in path.split("/")):
        return "a . or .. segment"
    return None


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKeyError(key)
        found[key] = value
    return found


def duplicate_json_key(body: bytes) -> str | None:
    """The first key repeated within one object of the JSON `body`, at any depth; None when
    there is none, or when the body is not JSON (the application reports that)."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as error:
        return str(error.args[0])
    except (ValueError, RecursionError):  # not JSON, or nested too deep: not this rule's
        return None
    return None
