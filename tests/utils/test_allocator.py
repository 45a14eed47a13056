"""Freed blocks stay in the heap on glibc: a step's fresh activations take no page faults."""

import resource
import sys

import pytest
import torch

from se_tutorial.utils.allocator import reuse_freed_memory


def page_faults_of_reallocating(megabytes: int, times: int) -> int:
    """Minor page faults taken while allocating, touching and freeing one block ``times`` times."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.ones(megabytes * 1024 * 1024 // 4)  # written once: every page touched, then freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_after_the_call_a_reallocated_block_reuses_its_pages():
    assert reuse_freed_memory() is True
    page_faults_of_reallocating(8, 2)  # the heap grows to hold the block once
    pages = 8 * 1024 * 1024 // 4096
    # Returned to the system, each of 20 blocks would fault on all of its 2,048 pages again.
    assert page_faults_of_reallocating(8, 20) < pages
    assert reuse_freed_memory() is True  # once per process: a second call changes nothing
