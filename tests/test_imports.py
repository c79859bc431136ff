"""Imports in python/dlcore run one way (docs/ARCHITECTURE.md): built from the source with ast,
the graph of module-level imports between dlcore modules has no cycle, no function imports a
module except an optional third-party dependency, and no module imports from a layer above its
own (core <- nn <- optim <- distributed <- Keras-style layer <- examples; ops modules use only _C, dtype,
autograd and _ops._args)."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "python" / "dlcore"

# imported inside functions only because they are optional dependencies
OPTIONAL = {"safetensors", "tqdm", "matplotlib", "optuna", "mpi4py", "onnx", "torch"}

# layers, bottom to top; a module may import only from its own layer or below
LAYERS = [
    ("native", ("dlcore._C",)),
    ("core", ("dlcore.dtype", "dlcore.device", "dlcore.cuda", "dlcore.accelerator", "dlcore.backends",
              "dlcore.autograd", "dlcore._ops", "dlcore._printing", "dlcore.tensor")),
    ("nn", ("dlcore.nn", "dlcore.data", "dlcore.datasets", "dlcore.distributions")),
    ("optim", ("dlcore.optim", "dlcore.replay")),
    ("distributed", ("dlcore.distributed",)),
    ("keras", ("dlcore.graph", "dlcore.initializers", "dlcore.optimizers", "dlcore.losses", "dlcore.regularizers",
               "dlcore.random", "dlcore.ops",
               "dlcore.utils", "dlcore.layers", "dlcore.callbacks", "dlcore.metrics", "dlcore.serialization",
               "dlcore.trainer", "dlcore.models", "dlcore.onnx", "dlcore.tuning",
               "dlcore.word2vec")),
    ("top", ("dlcore", "dlcore.examples")),
]
OPS_MAY_IMPORT = {"dlcore._C", "dlcore.dtype", "dlcore.autograd", "dlcore._ops._args"}


def _module_name(path, root):
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root):
    """{module name: (path, is_package)} for every .py file under root."""
    return {_module_name(p, root): (p, p.name == "__init__.py") for p in sorted(root.rglob("*.py"))}


# the compiled extension: built into the source tree by a development build, but only into
# site-packages by `pip install .` (as in CI), so it is named here rather than looked for
EXTENSIONS = {"dlcore._C"}


def _is_module(name, mods, root):
    """True when `name` is a module of the package: a .py file, a package or the extension."""
    return name in mods or name in EXTENSIONS


def _walk_outside_functions(node):
    """The statements executed when the module is imported (class bodies included)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield child
        yield from _walk_outside_functions(child)


def _function_imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    yield node, sub


def _targets(stmt, name, is_pkg, mods, root):
    """dlcore modules that an import statement of module `name` loads."""
    out = []
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.name == "dlcore" or alias.name.startswith("dlcore."):
                out.append(alias.name)
        return out
    if stmt.level:
        base = name.split(".") if is_pkg else name.split(".")[:-1]
        base = base[:len(base) - (stmt.level - 1)]
        target = ".".join(base + ([stmt.module] if stmt.module else []))
    else:
        target = stmt.module or ""
        if not (target == "dlcore" or target.startswith("dlcore.")):
            return out
    for alias in stmt.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if _is_module(sub, mods, root) else target)
    return out


def import_graph(root=ROOT):
    """({module: set of dlcore modules it imports at module level}, [function-level imports])."""
    mods = _sources(root)
    graph, local = {}, []
    for name, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = set()
        for stmt in _walk_outside_functions(tree):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _targets(stmt, name, is_pkg, mods, root) if t != name)
        graph[name] = edges
        for fn, stmt in _function_imports(tree):
            if isinstance(stmt, ast.Import):
                tops = {a.name.split(".")[0] for a in stmt.names}
            else:
                tops = {"." if stmt.level else (stmt.module or "").split(".")[0]}
            if not tops <= OPTIONAL:
                local.append(f"{path.relative_to(root.parent)}:{stmt.lineno} in {fn.name}(): {ast.unparse(stmt)}")
    return graph, local


def find_cycles(graph):
    """Every strongly connected component with more than one module, each as one cycle path."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v):  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    cycles = []
    for comp in comps:  # one concrete cycle through the component's first module
        members, start = set(comp), sorted(comp)[0]
        path, seen = [start], {start}
        while True:
            nxt = sorted(w for w in graph[path[-1]] if w in members)
            back = [w for w in nxt if w == start]
            if back and len(path) > 1:
                cycles.append(path + [start])
                break
            fresh = [w for w in nxt if w not in seen]
            if not fresh:
                cycles.append(sorted(comp))
                break
            path.append(fresh[0])
            seen.add(fresh[0])
    return cycles


def layer_of(module):
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > len(best[1])):
                best = (i, p)
    if best is None:
        raise AssertionError(f"{module} is in no layer of test_imports.LAYERS: add it there")
    return best[0]


def layer_violations(graph):
    out = []
    for m, targets in sorted(graph.items()):
        for t in sorted(targets):
            if layer_of(t) > layer_of(m):
                out.append(f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})")
            if m.startswith("dlcore._ops.") and t not in OPS_MAY_IMPORT:
                out.append(f"{m} imports {t}; ops modules import only {sorted(OPS_MAY_IMPORT)}")
    return out


GRAPH, LOCAL = import_graph()


def test_graph_sees_the_package():
    assert {"dlcore.tensor", "dlcore._ops.gemm", "dlcore.nn.functional", "dlcore.layers.core"} <= set(GRAPH)
    assert "dlcore._ops.elementwise" in GRAPH["dlcore.tensor"]
    assert "dlcore._C" in GRAPH["dlcore.autograd"]  # 'from . import _C': the extension module
    assert "dlcore.nn.activation" in GRAPH["dlcore.nn.functional"]


def test_no_import_cycles():
    cycles = find_cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_function_local_imports():
    assert not LOCAL, ("imports inside functions (only optional dependencies " + str(sorted(OPTIONAL)) +
                       " may be imported there):\n" + "\n".join(LOCAL))


def test_imports_follow_the_layers():
    bad = layer_violations(GRAPH)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_checker_catches_a_cycle_and_a_local_import(tmp_path):
    """The checks above fail on a package that breaks the rules."""
    pkg = tmp_path / "dlcore"
    (pkg / "nn").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import tensor\n")
    (pkg / "tensor.py").write_text("from .nn import module\n")
    (pkg / "nn" / "__init__.py").write_text("")
    (pkg / "nn" / "module.py").write_text("from ..tensor import Tensor\n\n\ndef f():\n    from .. import tensor\n"
                                          "    import tqdm\n")
    graph, local = import_graph(pkg)
    assert find_cycles(graph) == [["dlcore.nn.module", "dlcore.tensor", "dlcore.nn.module"]]
    assert len(local) == 1 and "from .. import tensor" in local[0]
    assert layer_violations(graph) == ["dlcore.tensor (core) imports dlcore.nn.module (nn)"]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("dlcore._ops.")))
def test_ops_modules_never_import_tensor_or_nn(module):
    assert not {t for t in GRAPH[module] if t == "dlcore.tensor" or t.startswith("dlcore.nn")}


# NumPy's edges (docs/ARCHITECTURE.md): printing, the data side (readers, DataLoader over NumPy
# data, splits / scalers / augmentation), fit / evaluate / predict taking users' NumPy data,
# the exact AUC's host sort, serialization's bytes, and the examples. Everything else - core,
# ops, nn, optim, the rest of the Keras-style layer - never imports NumPy.
NUMPY_EDGES = {"dlcore._printing", "dlcore.data", "dlcore.utils", "dlcore.datasets", "dlcore.trainer", "dlcore.metrics",
               "dlcore.serialization", "dlcore.examples.demo"}


def numpy_importers(root=ROOT):
    out = set()
    for name, (path, _) in _sources(root).items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "numpy" for a in node.names):
                out.add(name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "numpy" and not node.level:
                out.add(name)
    return out


def test_numpy_is_imported_only_at_the_edges():
    extra = {m for m in numpy_importers() - NUMPY_EDGES if not m.startswith("dlcore.examples.")}
    assert not extra, f"modules between the edges import NumPy: {sorted(extra)}"
