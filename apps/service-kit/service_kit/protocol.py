"""The HTTP/1.1 protocol every service is served with: uvicorn's h11 one, changed in two things.

- What the parser refuses (a request line or header that is not HTTP/1.1, Content-Length not
  digits, two different Content-Lengths, a byte outside VCHAR in the target such as raw UTF-8,
  a bad chunk size) is answered with the JSON error body, not uvicorn's plain text.
- A request's head must arrive in full within HEAD_TIMEOUT_SECONDS of its first byte (408 and
  the connection closed); a new connection that sends nothing is closed after the keep-alive
  time, as an idle one is. uvicorn's keep-alive timer stops at the first byte received, so on
  its own it bounds neither a slow head nor a connection that never sends one. (The body's
  bound is RequestContext's: BODY_TIMEOUT_SECONDS.)

uvicorn.run takes the class as `http=` (uvicorn.Config accepts a protocol class); that also
keeps h11 whatever else is installed (`auto` would switch to httptools if it were). The methods
overridden are uvicorn 0.54's (pinned in every image); tests/apps/test_edge.py sends the raw
requests to a server using it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from .edge import HEAD_TIMEOUT_SECONDS
from .errors import error_body

NOT_HTTP = "the request is not valid HTTP/1.1"


def raw_json_answer(status: int, reason: bytes, message: str) -> bytes:
    """A whole HTTP/1.1 answer with the JSON error body, closing the connection."""
    content = json.dumps(error_body(status, message), separators=(",", ":")).encode()
    head = [
        b"HTTP/1.1 %d %s" % (status, reason),
        b"content-type: application/json",
        b"content-length: %d" % len(content),
        b"x-request-id: " + uuid.uuid4().hex.encode(),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + content


def json_error_protocol(head_timeout: float = HEAD_TIMEOUT_SECONDS) -> type[asyncio.Protocol]:
    """uvicorn's H11Protocol with JSON errors and a bounded head (see the module)."""
    import h11  # only the process that serves needs the server
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonErrorH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_started = False

        def _arm(self, seconds: float) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            # Part of a head came (h11 holds it, unparsed): answer; nothing came: just close.
            if self.conn.trailing_data[0] and self.conn.our_state in (h11.IDLE, h11.DONE):
                self.transport.write(
                    raw_json_answer(
                        408,
                        b"Request Timeout",
                        f"the request head did not arrive in full within {head_timeout:g} s",
                    )
                )
            self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(self.timeout_keep_alive)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            waiting_for_head = self.cycle is None or self.cycle.response_complete
            if waiting_for_head and not self._head_started:
                self._head_started = True
                self._arm(head_timeout)
            super().data_received(data)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a whole head arrived: its request is under way
                self._cancel_head_timer()
                self._head_started = False

        def send_400_response(self, msg: str) -> None:
            self._cancel_head_timer()
            # Only where an answer is due: a new request, or the current one before its answer
            # began; not a second answer to a request already answered (a bad pipelined body).
            state = self.conn.our_state
            answering = self.cycle is not None and self.cycle.response_started
            if state is h11.IDLE or (state is h11.SEND_RESPONSE and not answering):
                self.transport.write(raw_json_answer(400, b"Bad Request", NOT_HTTP))
            self.transport.close()

    return JsonErrorH11Protocol
