#!/usr/bin/env python
"""Side-by-side benchmarks: dlcore against NumPy (OpenBLAS) and PyTorch, measured interleaved
in one run, medians reported (benchmarks, not timed tests).

    python bench/compare.py gemm [--threads 2] [--quick]
    python bench/compare.py --list

Each subcommand NAME lives in bench/compare_NAME.py and provides
    add_arguments(parser)   -- its own options (optional)
    main(args)              -- runs and prints a Markdown table
Common options (--threads, --quick, --repeat, --out) are parsed here. Thread counts are
put in the environment BEFORE NumPy / PyTorch are imported (OpenBLAS reads
OPENBLAS_NUM_THREADS at import), so subcommand modules must import them lazily or after
benchutil.setup_threads(). For a fair OpenBLAS baseline run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/compare.py gemm
(benchutil.environment_note() prints whether they were set).
"""
import argparse
import importlib
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def available():
    return sorted(p.stem[len("compare_"):] for p in HERE.glob("compare_*.py"))


def main(argv=None):
    names = available()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the subcommands and exit")
    sub = parser.add_subparsers(dest="cmd", metavar="{" + ",".join(names) + "}")
    modules = {}
    for name in names:
        p = sub.add_parser(name, help=f"bench/compare_{name}.py")
        p.add_argument("--threads", type=int, default=int(os.environ.get("DLCORE_NUM_THREADS", "0")) or os.cpu_count(),
                       help="threads for every contender (default: all cores)")
        p.add_argument("--quick", action="store_true", help="fewer shapes / repeats (smoke run)")
        p.add_argument("--repeat", type=int, default=0, help="interleaved rounds (0 = subcommand default)")
        p.add_argument("--out", type=str, default="", help="also write the Markdown table to this file")
        p.add_argument("--stat", choices=["median", "min"], default="median",
                       help="statistic over the interleaved samples (min = best round, useful when "
                            "other processes load the machine)")
        modules[name] = p
    # first pass: find the subcommand (its own options are added once its module is imported)
    args, _ = parser.parse_known_args(argv)
    if args.list or not args.cmd:
        print("subcommands:", " ".join(names) if names else "(none)")
        return 0
    sys.path.insert(0, str(HERE))
    import benchutil  # noqa: E402  (sets thread env vars before numpy/torch import)
    benchutil.setup_threads(args.threads)
    mod = importlib.import_module(f"compare_{args.cmd}")
    if hasattr(mod, "add_arguments"):
        mod.add_arguments(modules[args.cmd])
    args = parser.parse_args(argv)  # second pass: everything, unknown options are errors
    return mod.main(args) or 0


if __name__ == "__main__":
    sys.exit(main())
