"""bench/compare.py reaches every bench/compare_NAME.py with that script's own options (the
dispatcher once handed a Namespace to scripts that parse a list, so only `gemm` ran)."""
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"
NAMES = sorted(p.stem[len("compare_"):] for p in BENCH.glob("compare_*.py"))


def run(*args):
    return subprocess.run([sys.executable, str(BENCH / "compare.py"), *args], capture_output=True,
                          text=True, timeout=120)


def test_every_script_is_listed():
    assert {"gemm", "conv", "rnn", "optim", "activations", "norm", "train"} <= set(NAMES)
    out = run("--list").stdout
    assert out.splitlines()[-1].split()[1:] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_help_shows_the_scripts_own_options(name):
    r = run(name, "--help")
    assert r.returncode == 0, r.stderr
    src = (BENCH / f"compare_{name}.py").read_text()
    own = [tok.split('"')[1] for tok in src.split("add_argument(")[1:] if tok.startswith('"--')]
    assert own, name
    for opt in own:
        if "SUPPRESS" not in src.split(f'"{opt}"')[1].split("\n")[0]:
            assert opt in r.stdout, (name, opt)


def test_unknown_subcommand_is_refused():
    r = run("nosuch")
    assert r.returncode == 2 and "unknown subcommand 'nosuch'" in r.stderr


def test_train_rss_child_imports_the_dlcore_the_parent_runs(monkeypatch):
    """After pip install, dlcore lives in site-packages: the peak-RSS child must import that
    one, not the source tree's python/ (which has no built _C there)."""
    import os
    import dlcore
    sys.path.insert(0, str(BENCH))
    try:
        import compare_train
    finally:
        sys.path.remove(str(BENCH))
    seen = {}

    def fake_run(cmd, capture_output, text, env):
        seen["path"] = env["PYTHONPATH"].split(os.pathsep)[0]
        return subprocess.CompletedProcess(cmd, 0, "12.0\n", "")
    monkeypatch.setattr(compare_train.subprocess, "run", fake_run)
    assert compare_train.peak_rss("dlcore", "mlp", 8, 1) == "12 MiB"
    assert seen["path"] == os.path.dirname(os.path.dirname(os.path.abspath(dlcore.__file__)))


def test_frameworks_smallest_run_prints_dlcore_column():
    """The framework comparison (bench/compare_frameworks.py) in its smallest mode, dlcore
    only: every workload's worker process starts, trains and reports a time and a peak RSS, so
    the script does not rot between the runs that fill docs/speed.md."""
    r = run("frameworks", "--quick", "--frameworks", "dlcore", "--repeat", "1", "--min-block", "0.01",
            "--epoch-limit", "512", "--threads", "1")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("\n\n")
    table = lambda head: next(blocks[i + 1] for i, b in enumerate(blocks) if b.startswith(head)).splitlines()[2:]  # noqa: E731
    times, rss = table("Time "), table("Peak RSS")
    assert [ln.split("|")[1].strip().split(" (")[0] for ln in times] == \
        ["MLP b128", "CNN b64", "LSTM LM b32 x T64", "Fashion-MNIST MLP epoch"]
    for ln in times[:3] + ([] if "failed" in times[3] else times[3:]):
        assert float(ln.split("|")[3]) > 0, ln
    for ln in rss[:3]:
        assert float(ln.split("|")[2]) > 10, ln
