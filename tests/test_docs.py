"""Issue 17, docs a user can search: every public module declares __all__, naming every public
function and class it defines and nothing that does not exist; the API reference (pdoc, docs/build_api.py)
builds with no broken link and its catalog lists every layer, loss, optimizer, schedule, metric
and callback; README's test command is the one CI runs."""
import ast
import importlib
import inspect
import pathlib
import re

import pytest

import dlcore

ROOT = pathlib.Path(dlcore.__file__).resolve().parent
REPO = pathlib.Path(__file__).resolve().parent.parent
MODULES = sorted("dlcore." + ".".join(p.relative_to(ROOT).with_suffix("").parts).replace(".__init__", "")
                 for p in ROOT.rglob("*.py") if not p.name.startswith("_") or p.name == "__init__.py")
MODULES = [m[:-len(".__init__")] if m.endswith(".__init__") else m for m in MODULES]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_module_declares_all(name):
    mod = importlib.import_module(name)
    assert isinstance(getattr(mod, "__all__", None), list), f"{name} has no __all__"
    for n in mod.__all__:
        assert hasattr(mod, n), f"{name}.__all__ names {n!r}, which does not exist"
    path = pathlib.Path(mod.__file__)
    defs = [n.name for n in ast.parse(path.read_text()).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]
    missing = [d for d in defs if d not in mod.__all__]
    assert not missing, f"{name} defines public {missing} but leaves them out of __all__"


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    pytest.importorskip("pdoc")
    import sys
    sys.path.insert(0, str(REPO / "docs"))
    try:
        import build_api
    finally:
        sys.path.remove(str(REPO / "docs"))
    out = tmp_path_factory.mktemp("api")
    assert build_api.main([str(out)]) == 0, "the API reference has broken links"
    return out


def test_api_reference_builds_with_search_and_no_broken_link(built_docs):
    assert (built_docs / "search.js").exists() and (built_docs / "index.html").exists()
    page = (built_docs / "dlcore" / "autograd.html").read_text()
    assert "detect_anomaly" in page  # generated from the docstrings


@pytest.mark.parametrize("module,base", [
    ("dlcore.layers", "dlcore.nn.module.Module"),
    ("dlcore.nn", "dlcore.nn.module.Module"),
    ("dlcore.optim", "dlcore.optim.optimizer.Optimizer"),
    ("dlcore.optim.lr_scheduler", "dlcore.optim.lr_scheduler.LRScheduler"),
    ("dlcore.metrics", "dlcore.metrics.Metric"),
    ("dlcore.callbacks", "dlcore.callbacks.Callback"),
])
def test_the_catalog_lists_every_layer_loss_optimizer_schedule_metric_and_callback(built_docs, module, base):
    mod = importlib.import_module(module)
    bmod, bname = base.rsplit(".", 1)
    b = getattr(importlib.import_module(bmod), bname)
    containers = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Layer"}
    classes = {n for n in mod.__all__ if inspect.isclass(getattr(mod, n)) and issubclass(getattr(mod, n), b)
               and n not in containers and getattr(mod, n) is not b}
    listed = set(re.findall(r"<code>(\w+)</code></a>", (built_docs / "catalog.html").read_text()))
    missing = classes - listed
    assert not missing, f"catalog.html does not list {sorted(missing)}"


def test_the_catalog_lists_every_loss_function(built_docs):
    import dlcore.nn.functional as F
    losses = {n for n in F.__all__ if getattr(F, n).__module__ == "dlcore.nn.loss"}
    listed = set(re.findall(r"<code>(\w+)</code></a>", (built_docs / "catalog.html").read_text()))
    assert losses <= listed, sorted(losses - listed)


def test_readme_test_command_is_the_one_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    cmd = re.search(r"^    (python -m pip install \"\.\[test\]\".*?) && python -m pytest", readme, re.M).group(1)
    assert cmd.replace("python -m pip install ", "python -m pip install -q ") in ci
