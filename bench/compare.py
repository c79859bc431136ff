#!/usr/bin/env python
"""Side-by-side benchmarks: dlcore against NumPy (OpenBLAS) and PyTorch, measured interleaved
in one run, medians reported (benchmarks, not timed tests).

    python bench/compare.py gemm [--threads 2] [--quick]
    python bench/compare.py --list

Each subcommand NAME lives in bench/compare_NAME.py and provides main(). A module with
    add_arguments(parser)   -- its own options
gets main(args), an argparse Namespace that also holds the common options parsed here
(--threads, --quick, --repeat, --out, --stat); a module without it parses its own options and
gets main(argv), the list of arguments after NAME. Thread counts are
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
    argv = list(sys.argv[1:] if argv is None else argv)
    names = available()
    cmd = next((a for a in argv if not a.startswith("-")), None)
    if cmd is None or argv[:1] == ["--list"]:
        print(__doc__)
        print("subcommands:", " ".join(names) if names else "(none)")
        return 0
    if cmd not in names:
        print(f"compare.py: unknown subcommand {cmd!r}; choose from {', '.join(names)}", file=sys.stderr)
        return 2
    rest = argv[argv.index(cmd) + 1:]
    sys.path.insert(0, str(HERE))
    threads_opt = dict(type=int, default=int(os.environ.get("DLCORE_NUM_THREADS", "0")) or os.cpu_count(),
                       help="threads for every contender (default: all cores)")
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", **threads_opt)
    import benchutil  # noqa: E402
    # OpenBLAS reads its thread count when NumPy is first imported, which a module may do at its
    # top: the environment is set before the module is imported (scripts with their own parser
    # set their threads again themselves)
    benchutil.setup_threads(pre.parse_known_args(rest)[0].threads)
    mod = importlib.import_module(f"compare_{cmd}")
    if not hasattr(mod, "add_arguments"):
        # a script with its own parser (and its own thread setup): it gets the rest as is
        return mod.main(rest) or 0
    parser = argparse.ArgumentParser(prog=f"compare.py {cmd}")
    benchutil.add_common_arguments(parser, threads_opt["default"], threads_opt["help"])
    mod.add_arguments(parser)
    return mod.main(parser.parse_args(rest)) or 0


if __name__ == "__main__":
    sys.exit(main())
