"""What the client reads off the wire: an answer's body up to a size cap, its trace id, and whether a
failed request ever reached the server (nothing sent means nothing Veryfi could have processed)."""

from __future__ import annotations

from typing import Optional

import requests
import urllib3


def read_limited(response: requests.Response, limit: int) -> Optional[bytes]:
    """The body, read the way requests reads it (so the connection is reused), or None past `limit`."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def never_connected(exc: BaseException) -> bool:
    """The connection was refused or never made (urllib3's NewConnectionError inside): nothing was sent."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
            return True
        pending += [*error.args, getattr(error, "reason", None), error.__cause__, error.__context__]
    return False


def trace_id(response: requests.Response) -> Optional[str]:
    return response.headers.get("x-veryfi-trace-id")
