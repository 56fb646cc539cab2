"""Run a script (the bot's app.py) and report every garbage-collector pause on stderr.

    python bench/gc_trace.py app.py

Each collection of generation 1 or 2 is printed as ``bench-gc <start> <ms> <generation>``,
``start`` being ``time.monotonic()`` (the same clock in every process, so the benchmark can
tell which pauses fell inside a burst).
"""

from __future__ import annotations

import gc
import runpy
import sys
import time

_started = 0.0


def _on_gc(phase: str, info: dict) -> None:
    global _started
    if phase == "start":
        _started = time.monotonic()
    elif info["generation"] >= 1:
        ms = 1000 * (time.monotonic() - _started)
        sys.stderr.write(f"bench-gc {_started:.6f} {ms:.3f} {info['generation']}\n")
        sys.stderr.flush()


if __name__ == "__main__":
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    gc.callbacks.append(_on_gc)
    runpy.run_path(script, run_name="__main__")
