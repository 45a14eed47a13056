"""Fetching a URL without hanging: a stall timeout, a deadline for the whole body, one clear message.

A server can fail in more ways than refusing: it can go silent (caught by
``timeout``, per read), trickle a byte at a time (caught by ``deadline``, for
the whole body), close the connection mid-body or answer something that is
not HTTP. Each ends in a :class:`FetchError` that names the URL and the reason.
"""

from __future__ import annotations

import http.client
import sys
import time
import urllib.request

from .errors import SETutorialError

#: Seconds a download may go without receiving a byte before it counts as stalled.
DOWNLOAD_TIMEOUT = 30.0
#: Seconds the whole of one file may take (the largest Fashion-MNIST file is 26 MB).
DOWNLOAD_DEADLINE = 600.0
_CHUNK = 1 << 16


class FetchError(SETutorialError, OSError):
    """A URL could not be fetched; the message names it and the reason."""


def fetch(
    url: str,
    timeout: float = DOWNLOAD_TIMEOUT,
    *,
    deadline: float = DOWNLOAD_DEADLINE,
    progress: bool = False,
) -> bytes:
    """The body of ``url``; fails after ``timeout`` seconds without data or ``deadline`` seconds in all.

    With ``progress``, a line on stderr shows how much of the body has come.
    """
    started = time.monotonic()
    try:
        # A new opener each time: urlopen keeps the proxy settings of its first call for ever.
        with urllib.request.build_opener().open(url, timeout=timeout) as response:
            size = response.length  # None for a chunked body
            parts, received = [], 0
            while chunk := response.read1(_CHUNK):  # whatever has arrived: the deadline is checked often
                parts.append(chunk)
                received += len(chunk)
                if progress:
                    total = f" of {size / 1e6:.1f}" if size else ""
                    print(f"\r{url}: {received / 1e6:.1f}{total} MB", end="", file=sys.stderr, flush=True)
                if time.monotonic() - started > deadline:
                    raise FetchError(
                        f"{url} sent only {received:,} bytes in {deadline:g} s, too slowly to finish (check "
                        "the network and any proxy, e.g. $https_proxy)"
                    )
            if progress:
                print(file=sys.stderr)
            if size is not None and received < size:
                raise http.client.IncompleteRead(b"".join(parts), size - received)
            return b"".join(parts)
    except http.client.IncompleteRead as error:
        got = len(error.partial)
        raise FetchError(
            f"{url} closed the connection after {got:,} bytes, before the end of the file"
        ) from None
    except http.client.HTTPException as error:  # a reply that is not HTTP, a broken chunked body
        raise FetchError(f"{url} did not answer as an HTTP server does ({type(error).__name__})") from None
    except OSError as error:  # URLError and TimeoutError (a stall) are OSErrors
        if isinstance(error, FetchError):
            raise
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise FetchError(
                f"{url} sent nothing for {timeout:g} s and timed out (check the network and "
                "any proxy, e.g. $https_proxy)"
            ) from None
        raise FetchError(f"{url}: {reason}") from None
