"""Shared helpers for bench/compare_*.py: thread setup for every library, interleaved
(round-robin) timing with medians, and Markdown tables.

Timing discipline (the machine is shared and noisy): every contender of one case is timed in
the same rounds, in rotating order, each sample long enough (>= min_sample seconds, several
calls), and the MEDIAN of the samples is reported. Ratios are computed from medians measured
side by side in one run, never against numbers from another run.
"""
import argparse
import os
import sys
import time

_THREADS = None


def add_common_arguments(parser, threads_default, threads_help="threads for every contender"):
    """The options every subcommand of compare.py takes (--threads, --quick, --repeat, --out,
    --stat): compare.py's parser and the standalone parsers below."""
    parser.add_argument("--threads", type=int, default=threads_default, help=threads_help)
    parser.add_argument("--quick", action="store_true", help="fewer shapes / repeats (smoke run)")
    parser.add_argument("--repeat", type=int, default=0, help="interleaved rounds (0 = subcommand default)")
    parser.add_argument("--out", type=str, default="", help="also write the Markdown table to this file")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="statistic over the interleaved samples (min = best round, useful when "
                             "other processes load the machine)")


def standalone_parser(doc, add_arguments, threads_default=2):
    """The parser of a compare_*.py run as a script: the common options and the module's own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, threads_default)
    add_arguments(parser)
    return parser


def setup_threads(n):
    """Call before importing numpy / torch: OpenBLAS and OpenMP read these at load."""
    global _THREADS
    _THREADS = int(n)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "DLCORE_NUM_THREADS"):
        os.environ[var] = str(_THREADS)
    if "numpy" in sys.modules:
        print("note: numpy was imported before setup_threads; OpenBLAS thread count may differ", file=sys.stderr)


def threads():
    return _THREADS or os.cpu_count()


def apply_threads(n=None):
    """Sets the thread count on the libraries that are already imported. Returns a dict of
    what each library reports."""
    n = n or threads()
    info = {}
    try:
        import threadpoolctl  # optional
        threadpoolctl.threadpool_limits(n)
        info["threadpoolctl"] = True
    except ImportError:
        info["threadpoolctl"] = False
    try:
        import dlcore._C as C
        C.set_num_threads(n)
        info["dlcore"] = C.get_num_threads()
    except ImportError:
        pass
    torch = try_torch()
    if torch is not None:
        torch.set_num_threads(n)
        info["torch"] = torch.get_num_threads()
    info["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS")
    return info


def try_torch():
    try:
        import torch
        return torch
    except Exception:
        return None


def environment_note():
    """Lines describing the environment variables that change OpenBLAS's speed."""
    lines = []
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        v = os.environ.get(var)
        lines.append(f"{var}={'(unset)' if v is None else v}")
    fair = all(os.environ.get(v) is None for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    note = "OpenBLAS environment: " + ", ".join(lines)
    if not fair:
        note += ("  <-- set: NumPy may be slowed; for a fair baseline run with "
                 "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/compare.py ...`")
    return note, fair


# Seconds slept, untimed, before every timed block in the side-by-side scripts: after a parallel
# call each library's idle workers keep spinning for a while, and on a 2-core machine a
# still-spinning worker of the library that just ran takes a core from the one being timed.
# Measured here (CPU time of the process while it sleeps after a 512^2 matmul): dlcore's pool
# stops within 0.2 ms, PyTorch's libgomp within 10 ms, NumPy's OpenBLAS worker spins for about
# 110 ms. So block_time sleeps GAP and then waits, by quiesce(), until the process's threads
# stop using CPU (after a bare 20 ms gap, dlcore timed right after NumPy ran 1024^2 float32 at
# 142 GFLOP/s instead of 177).
GAP = 0.02


def quiesce(step=0.005, idle_fraction=0.1, limit=1.0):
    """Sleeps in `step` seconds until one step in which this process used less than
    idle_fraction * step seconds of CPU (every library's worker threads have stopped spinning),
    or until `limit` seconds have passed. Returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = time.process_time()
        time.sleep(step)
        if time.process_time() - c0 < idle_fraction * step:
            break
    return time.perf_counter() - t0


def calls_per_block(fn, min_block=0.2):
    """Back-to-back calls that make one timed block last about min_block seconds (at least 1).
    Calls fn twice: a warm-up (allocations, page faults, thread pools), then one timed call."""
    fn()
    t0 = time.perf_counter()
    fn()
    dt = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(min_block / dt))


def block_time(fn, calls, clock=time.perf_counter, gap=None):
    """Seconds per call over `calls` back-to-back calls after an untimed gap (default GAP) and
    quiesce(): a library runs as in a user's program (its own workers awake after the first
    call; on this VM an idle core takes milliseconds to wake), while the other library's
    workers have stopped spinning."""
    time.sleep(GAP if gap is None else gap)
    quiesce()
    t0 = clock()
    for _ in range(calls):
        fn()
    return (clock() - t0) / calls


def interleaved(contenders, rounds=7, min_sample=0.05, clock=time.perf_counter, settle=None):
    """contenders: {name: zero-arg callable}. Each round times every contender once (order
    rotated per round), each sample a block_time of about min_sample seconds. Returns
    {name: sorted list of seconds per call}.
    clock=time.process_time measures CPU seconds of this process instead of wall time: with
    ONE thread per library that is robust to other processes loading the machine (with more
    threads it would count spin-waiting pool threads, so use wall time there).
    settle: seconds slept before each sample (default GAP), followed by quiesce()."""
    names = list(contenders)
    number = {n: calls_per_block(contenders[n], min_sample) for n in names}
    samples = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            samples[n].append(block_time(contenders[n], number[n], clock, settle))
    return {n: sorted(v) for n, v in samples.items()}


def median(xs):
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else 0.5 * (xs[m - 1] + xs[m])


def stat(xs, name="median"):
    return min(xs) if name == "min" else median(xs)


def markdown_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def write_out(args, text):
    """Writes text (and a newline) to the file --out names, when the script has that option and
    it is given."""
    if getattr(args, "out", ""):
        with open(args.out, "w") as f:
            f.write(text + "\n")


def fmt(x, digits=1):
    if x is None:
        return "-"
    return f"{x:.{digits}f}"
