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
