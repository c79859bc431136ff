"""``dlcore-train``: the console entry point for the example jobs.

    dlcore-train fashion-mnist --model cnn --epochs 15
    dlcore-train mnist --model mlp
    dlcore-train demo
"""
import sys

from . import demo, fashion_mnist

__all__ = ["JOBS", "main"]

JOBS = {"fashion-mnist": "Fashion-MNIST (MLP or CNN), see --help",
        "mnist": "MNIST digits, same models and options",
        "demo": "the two-spirals MLP (no data files needed)"}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: dlcore-train JOB [options]\n\njobs:")
        for k, v in JOBS.items():
            print(f"  {k:<14} {v}")
        print("\n`dlcore-train JOB --help` lists the options of a job.")
        return 0 if argv else 2
    job, rest = argv[0], argv[1:]
    if job in ("fashion-mnist", "fashion_mnist", "mnist"):
        ds = "mnist" if job == "mnist" else "fashion-mnist"
        return fashion_mnist.main(rest + ["--dataset", ds], prog=f"dlcore-train {job}")
    if job == "demo":
        demo.main()
        return 0
    print(f"dlcore-train: unknown job {job!r}; jobs: {', '.join(JOBS)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
