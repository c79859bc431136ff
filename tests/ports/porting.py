"""Runs a PyTorch example script on dlcore by changing only its import lines.

Every port in this folder is a plain PyTorch script (`<name>.py`, written in the style of a
well-known public example) whose top lines import torch and whose `main(args)` returns the
list of its losses. `run_port(name, "dlcore", args)` reads that source, rewrites each import
line from `torch` to `dlcore` (`import torch.nn as nn` -> `import dlcore.nn as nn`) and
executes it; nothing below the imports is touched, and `rewrite_imports` refuses a script
whose non-import lines mention a module path, so the check cannot be fooled by an edit
hidden in the body. `run_port(name, "torch", args)` executes the untouched source.

`args` is the example scripts' argparse namespace, plus the few hooks a comparison needs:

- `args.init(*modules)`: called once after the script builds its models. The dlcore run
  records their initial state_dicts; the torch run loads them, so both start from the same
  weights (float64 copies through NumPy).
- `args.randn(*shape)` / `args.rng`: the noise a script draws (GAN latents, VAE's epsilon)
  comes from one NumPy stream seeded per run, as arrays of the run's float dtype.
- `args.outf`: a fresh directory for the files a script saves (checkpoints, data).
- `args.sample(dist)`: an action drawn from a Categorical. In a comparison both libraries
  invert the same uniform draws on the distribution's probabilities; otherwise it is
  `dist.sample()`, the library's own sampler.
"""

import ast
import importlib
import re
import shutil
import tempfile
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
_IMPORT = re.compile(r"^(import torch(\.[\w.]+)?( as \w+)?|from torch(\.[\w.]+)? import [\w, ]+)$")


def rewrite_imports(source, package):
    """Returns `source` with its torch import lines pointing at `package`.

    Only the module's leading import statements change (after its docstring), one line
    each, and each keeps the name it binds (`import torch` becomes `import dlcore as torch`).
    An import of torch or dlcore anywhere else is refused.
    """
    tree = ast.parse(source)
    header = set()
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            break
        header.add(node.lineno)
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if node_imports_library(names) and node.lineno not in header:
            raise AssertionError(f"port imports torch/dlcore below its header (line {node.lineno})")
    lines = source.splitlines(keepends=True)
    for n in header:
        text = lines[n - 1].rstrip("\n")
        if text.startswith(("import torch", "from torch")):
            assert _IMPORT.match(text), f"import line {n} has a form the port check does not know: {text!r}"
            if package != "torch":
                text = (f"import {package} as torch" if text == "import torch" else
                        re.sub(r"\btorch\b", package, text, count=1))
            lines[n - 1] = text + "\n"
    return "".join(lines)


def node_imports_library(names):
    return any(n.split(".")[0] in ("torch", "dlcore") for n in names)


def changed_lines(source, code):
    """The (before, after) pairs of lines that differ between a script and its rewrite."""
    a, b = source.splitlines(), code.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def source_of(name):
    return (HERE / f"{name}.py").read_text()


class Args(types.SimpleNamespace):
    """The namespace a port's `main` reads: its options plus the comparison hooks."""


def make_args(library, double, shared, compare, seed=0, **options):
    """Arguments for one run; `shared` carries the initial weights from the dlcore run."""
    dtype = np.float64 if double else np.float32
    args = Args(double=double, seed=seed, outf=tempfile.mkdtemp(prefix=f"port_{library}_"), **options)
    args.rng = np.random.default_rng(seed)
    args.randn = lambda *shape: args.rng.standard_normal(shape).astype(dtype)
    uniform = np.random.default_rng(seed + 1)

    def init(*modules):
        if library == "dlcore":
            shared["weights"] = [{k: np.array(v.detach().numpy(), copy=True)
                                  for k, v in m.state_dict().items()} for m in modules]
        elif "weights" in shared:
            torch = _library("torch")
            for m, state in zip(modules, shared["weights"]):
                m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})

    def sample(dist):
        if not compare:
            return dist.sample()
        p = dist.probs.detach().numpy()
        u = uniform.random(p.shape[:-1] + (1,))
        idx = np.minimum((np.cumsum(p, axis=-1) < u).sum(-1), p.shape[-1] - 1)
        return _library(library).tensor(np.asarray(idx, dtype=np.int64))

    args.init, args.sample = init, sample
    return args


def _library(library):
    return importlib.import_module("dlcore" if library == "dlcore" else "torch")


def run_port(name, library, args):
    """Executes port `name` with `library` ('dlcore' or 'torch') behind its import lines."""
    source = source_of(name)
    code = rewrite_imports(source, library)
    assert all(_IMPORT.match(x) for x, _ in changed_lines(source, code))
    module = _library(library)
    previous = module.get_default_dtype()
    namespace = {"__name__": f"port_{name}"}
    try:
        exec(compile(code, str(HERE / f"{name}.py"), "exec"), namespace)
        module.manual_seed(args.seed)
        return [float(v) for v in namespace["main"](args)]
    finally:
        module.set_default_dtype(previous)
        shutil.rmtree(args.outf, ignore_errors=True)


def compare_with_torch(name, steps, rtol=1e-11, atol=0.0, **options):
    """Runs port `name` on dlcore then torch in float64 from the same initial weights and
    the same noise; returns both loss lists after checking they agree."""
    shared = {}
    mine = run_port(name, "dlcore", make_args("dlcore", True, shared, True, steps=steps, **options))
    ref = run_port(name, "torch", make_args("torch", True, shared, True, steps=steps, **options))
    assert "weights" in shared, f"{name} never called args.init(model)"
    assert len(mine) == len(ref) >= 2
    np.testing.assert_allclose(mine, ref, rtol=rtol, atol=atol, err_msg=f"{name}: losses differ from torch")
    return mine, ref


def learn_on_dlcore(name, steps, out=None, **options):
    """Runs port `name` on dlcore alone (float32, its own random streams); returns losses.
    `out`, a dict, receives what the script left in its args (accuracy, generated text...)."""
    args = make_args("dlcore", False, {}, False, steps=steps, **options)
    losses = run_port(name, "dlcore", args)
    if out is not None:
        out.update(vars(args))
    return losses
