"""docs/compatibility.md cannot drift from the code: its tables are read here and every name
resolved. "Supported" names must exist in dlcore at the same path (torch.X.name ->
dlcore.X.name) and in PyTorch; "Same name, different behaviour" names must exist in both;
"Not supported" names must be missing from dlcore (and exist in PyTorch: no typos); and every
public name that dlcore and PyTorch share in a listed module or class must be on the page."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

from conftest import HAVE_TORCH, requires_torch

PAGE = Path(__file__).resolve().parents[1] / "docs" / "compatibility.md"
# Names that resolve in both libraries but are not the same thing: torch.functional is not
# nn.functional (dlcore.functional is), torch.serialization is not dlcore's file-format module.
NOT_THE_SAME = {"torch.functional", "torch.serialization"}


def _section(text, title, level):
    """The body of the heading `title` at `level` (#, ##, ###), up to the next heading at that
    level or above."""
    m = re.search(rf"^{'#' * level} {re.escape(title)}\n(.*?)(?=^#{{1,{level}}} |\Z)", text, re.S | re.M)
    assert m, f"docs/compatibility.md has no {'#' * level} {title} section"
    return m.group(1)


def _rows(section):
    """(first cell, second cell) of each table row below the header."""
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 2 and not set(cells[0]) <= set("-: ") and cells[0].startswith("`"):
            rows.append((cells[0], cells[1]))
    return rows


def _code(cell):
    return re.findall(r"`([^`]+)`", cell)


def _resolve(dotted):
    """The object at a dotted path (modules imported along the way); AttributeError /
    ModuleNotFoundError when it is not there."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[:i + 1]))
    return obj


def _exists(dotted):
    try:
        _resolve(dotted)
        return True
    except (AttributeError, ImportError):
        return False


def _dlcore(dotted):
    assert dotted.split(".")[0] == "torch", f"{dotted}: page names must be PyTorch paths"
    return "dlcore" + dotted[len("torch"):]


PYTORCH = _section(PAGE.read_text(), "PyTorch", 2)
SUPPORTED = [(owner, name) for cell, names in _rows(_section(PYTORCH, "Supported", 3))
             for owner in _code(cell) for name in _code(names)]
DIFFERENT = [_code(cell)[0] for cell, _ in _rows(_section(PYTORCH, "Same name, different behaviour", 3))]
MISSING = [_code(cell)[0] for cell, _ in _rows(_section(PYTORCH, "Not supported", 3))]


def test_the_page_has_its_tables():
    assert len(SUPPORTED) > 300 and len(DIFFERENT) >= 5 and len(MISSING) >= 30
    claimed = {f"{o}.{n}" for o, n in SUPPORTED}  # (a supported name may also carry a difference)
    assert not claimed & set(MISSING) and not set(DIFFERENT) & set(MISSING)


@pytest.mark.parametrize("owner", sorted({o for o, _ in SUPPORTED}))
def test_every_supported_name_exists_in_dlcore_at_the_same_path(owner):
    names = [n for o, n in SUPPORTED if o == owner]
    absent = [n for n in names if not _exists(f"{_dlcore(owner)}.{n}")]
    assert not absent, f"docs/compatibility.md claims {owner}.{{{', '.join(absent)}}} but dlcore lacks them"
    if HAVE_TORCH:
        not_torch = [n for n in names if not _exists(f"{owner}.{n}")]
        assert not not_torch, f"docs/compatibility.md lists {owner}.{{{', '.join(not_torch)}}}, not PyTorch names"


@pytest.mark.parametrize("name", DIFFERENT)
def test_names_with_different_behaviour_exist_in_dlcore(name):
    assert _exists(_dlcore(name)), f"{name} is listed as different but dlcore lacks it: move it to 'Not supported'"


@pytest.mark.parametrize("name", MISSING)
def test_unsupported_names_are_missing_from_dlcore(name):
    assert not _exists(_dlcore(name)), (f"dlcore now has {_dlcore(name)}: move {name} to 'Supported' in "
                                        f"docs/compatibility.md (or to 'Same name, different behaviour')")


@requires_torch
@pytest.mark.parametrize("name", MISSING + DIFFERENT)
def test_listed_names_are_pytorch_names(name):
    assert _exists(name), f"docs/compatibility.md lists {name}, which PyTorch does not have"


def _public(module):
    names = getattr(module, "__all__", None)
    return set(names) if names is not None else {n for n in dir(module) if not n.startswith("_")}


@requires_torch
@pytest.mark.parametrize("owner", sorted({o for o, _ in SUPPORTED}))
def test_every_shared_name_is_on_the_page(owner):
    """A name added to dlcore under a PyTorch path must be added to the page too."""
    torch_obj, dl_obj = _resolve(owner), _resolve(_dlcore(owner))
    theirs = {n for n in dir(torch_obj) if not n.startswith("_")}
    if inspect.isclass(dl_obj):
        ours = {n for n in dir(dl_obj) if not n.startswith("_")}
    elif hasattr(dl_obj, "__all__"):
        ours = _public(dl_obj)
    else:  # a module without __all__ (torch.backends.cudnn's switches): what it defines
        ours = {n for n, v in vars(dl_obj).items() if not n.startswith("_") and not inspect.ismodule(v)}
    listed = {n for o, n in SUPPORTED if o == owner} | {d.rsplit(".", 1)[1] for d in DIFFERENT + MISSING
                                                        if d.rsplit(".", 1)[0] == owner}
    unlisted = sorted(n for n in theirs & ours - listed if f"{owner}.{n}" not in NOT_THE_SAME)
    assert not unlisted, f"{owner}: dlcore and PyTorch both have {unlisted}; add them to docs/compatibility.md"
