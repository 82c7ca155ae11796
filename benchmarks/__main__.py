"""`python -m benchmarks --scale sample|city|national [--practices N ...]` (see benchmarks/run.py)."""

import logging
import os
import sys

from benchmarks.run import main

if __name__ == "__main__":
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0
    except Exception:
        import traceback

        traceback.print_exc()
        code = 1
    # like the omu script: skip DuckDB 2's benign nanobind "leaked instances" report at shutdown
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
