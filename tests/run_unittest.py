"""Runs one Python test module as one CTest test (tests/CMakeLists.txt: add_python_tests), and
says what happened in its exit status, so that CTest cannot show a module that tested nothing as
"Passed":

  0   its tests passed (some may have been skipped; they are listed);
  1   a test failed or raised, or the module holds no test;
  77  every test was skipped (chromium or make missing): CTest's SKIP_RETURN_CODE for these
      tests, so it reports the module as "Skipped", with the reasons in its output.

Under ARCHBENCH_REQUIRE_ALL=1, which `make test` sets after installing every package the tests
need, a skipped test fails instead: there the only reason to skip is a broken installation.

Usage: run_unittest.py MODULE   (from the module's folder, as CTest runs it)
"""
from __future__ import annotations

import os
import sys
import unittest

SKIPPED = 77


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: run_unittest.py MODULE", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())
    suite = unittest.defaultTestLoader.loadTestsFromName(argv[1])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if not result.wasSuccessful():
        return 1
    skipped = result.skipped
    for test, reason in skipped:
        print(f"skipped: {test}: {reason}")
    if skipped and os.environ.get("ARCHBENCH_REQUIRE_ALL") == "1":
        print(f"{len(skipped)} skipped, and ARCHBENCH_REQUIRE_ALL=1 (make test) allows none: "
              "install what they need (make deps)")
        return 1
    if result.testsRun == 0 and not skipped:
        print(f"{argv[1]}: no test ran")
        return 1
    if skipped and len(skipped) >= result.testsRun:
        print(f"{argv[1]}: every test was skipped")
        return SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
