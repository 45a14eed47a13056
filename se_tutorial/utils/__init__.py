"""Foundations that every layer of the package may use, and that use none of them.

* :mod:`.allocator` - keeping freed memory for the next step on Linux CPUs (no page faults)
* :mod:`.checks` - argument checks that turn bad input into one clear sentence
* :mod:`.errors` - :class:`SETutorialError`, the base of every error the package raises on purpose
* :mod:`.files` - atomic writes, shared appends, output paths checked up front, the cache folder
* :mod:`.fetch` - fetching a URL with a timeout and a message that says what went wrong
* :mod:`.provenance` - commit, versions, device and date of a result
"""
