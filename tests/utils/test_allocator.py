"""Freed blocks stay in the heap on glibc: a step's fresh activations take no page faults."""

import json
import subprocess
import sys

import pytest

# Measured in a fresh process: a long-lived one (the test run) may already hold freed memory.
MEASURE = """
import json, resource, torch
from se_tutorial.utils.allocator import reuse_freed_memory

def faults(times):  # minor page faults while allocating, touching and freeing an 8 MiB block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.ones(2 * 1024 * 1024)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

default = faults(20)  # glibc as it starts
agreed = reuse_freed_memory()
faults(10)  # the heap settles (it grows in steps over the first few blocks)
print(json.dumps({"agreed": agreed, "default": default, "kept": faults(20)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_with_freed_memory_kept_a_reallocated_block_reuses_its_pages():
    result = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout)
    pages = 8 * 1024 * 1024 // 4096
    assert measured["agreed"] is True
    # Returned to the system when freed, the blocks fault on their 2,048 pages again and again.
    assert measured["default"] > 5 * pages
    assert measured["kept"] < pages
