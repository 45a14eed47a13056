"""Fetching a URL without hanging: a timeout, and a message that says what went wrong."""

from __future__ import annotations

import urllib.request

from .errors import SETutorialError

#: Seconds a download may go without receiving a byte before it counts as stalled.
DOWNLOAD_TIMEOUT = 30.0


class FetchError(SETutorialError, OSError):
    """A URL could not be fetched; the message names it and the reason."""


def fetch(url: str, timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """The body of ``url``; fails after ``timeout`` seconds without data instead of hanging."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError as error:  # URLError and TimeoutError (a stall) are OSErrors
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise FetchError(
                f"{url} sent nothing for {timeout:g} s and timed out (check the network and "
                "any proxy, e.g. $https_proxy)"
            ) from None
        raise FetchError(f"{url}: {reason}") from None
