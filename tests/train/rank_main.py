"""``embed`` with ``{rank}`` in each argument replaced by this worker's rank (torchrun's ``RANK``).

Started by torchrun in place of ``-m embed``, it gives the ranks different options or corpora,
which the tests of what the ranks must agree on need (tests/train/test_distributed_checks.py).
"""

from __future__ import annotations

import os
import sys

from embed.cli import main

if __name__ == "__main__":
    rank = os.environ["RANK"]
    main([a.replace("{rank}", rank) for a in sys.argv[1:]], prog_name="embed")
