"""The command-line style every archbench plotting tool shares: a bad flag or argument is one
line on stderr and exit 2. It sits below report.py, compare.py and microbench_charts.py, which
all use it, so that none of them imports another for it."""
from __future__ import annotations

import argparse
import sys


def usage_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)

    def usage_error(message: str) -> None:
        print(f"{prog}: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = usage_error  # one line and exit 2, as every archbench tool
    return parser
