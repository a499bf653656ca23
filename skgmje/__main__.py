"""Command line: ``python -m skgmje demo [--output DIR]``."""

import argparse
import sys
import time

from . import _demo


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skgmje", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="fit every estimator on Datasets A and B and compare held-out NLL"
    )
    demo.add_argument(
        "--output",
        default="demo-output",
        help="folder for demo.json and demo.png (default: %(default)s)",
    )
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"Fitting on {_demo.N_TRAIN} training points, scoring {_demo.N_TEST} held-out points:")
    results = _demo.run(arguments.output)
    print()
    print(_demo.format_table(results))
    print()
    print(
        f"Results in {arguments.output}/demo.json"
        + (f", figure in {results['figure']}" if "figure" in results else "")
    )
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
