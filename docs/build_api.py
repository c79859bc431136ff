#!/usr/bin/env python
"""Builds dlcore's API reference and checks its links.

    python docs/build_api.py [OUT]        (default: docs/_build/api; needs `pip install pdoc`)

1. pdoc renders one page per public module from the docstrings, with a search box
   (index.html, search.js); what a module shows is its __all__.
2. catalog.html lists every layer, loss, optimizer, learning-rate schedule, metric and callback
   (and the names compile() accepts for them), each linked to its entry in the pages.
3. Every link in the output is checked: a relative link must name an existing file, and its
   #fragment an id in that file. External links (https://...) are listed but not fetched (the
   build runs without network access).
Exit status 1 when a link is broken, so CI fails on it.
"""
import html
import html.parser
import inspect
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def build_pages(out):
    import pdoc
    import pdoc.render
    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=False,
                          footer_text="dlcore API reference", template_directory=HERE / "pdoc-templates")
    pdoc.pdoc("dlcore", "dlcore.nn.module", output_directory=out)


def _href(module, name):
    """The page and anchor of `name` as the public module that exports it shows it."""
    return f"{module.replace('.', '/')}.html#{name}"


def _summary(obj):
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")[:160]


def _section(title, intro, items):
    rows = []
    for module, name, obj in items:
        target = obj if inspect.isclass(obj) or inspect.isfunction(obj) else None
        link = f'<a href="{html.escape(_href(module, name))}"><code>{html.escape(name)}</code></a>' if target else \
            f"<code>{html.escape(name)}</code>"
        alias = f" (alias of <code>{html.escape(target.__name__)}</code>)" if target is not None and \
            getattr(target, "__name__", name) != name else ""
        rows.append(f"<tr><td>{link}{alias}</td><td>{html.escape(_summary(obj) if target else '')}</td></tr>")
    anchor = title.lower().replace(" ", "-")
    return (f'<h2 id="{anchor}">{html.escape(title)}</h2>\n<p>{intro}</p>\n<table>\n' + "\n".join(rows)
            + "\n</table>\n")


def catalog():
    """(title, intro, [(name, object)]) for every kind of building block."""
    import dlcore
    from dlcore import callbacks, layers, metrics, nn, optim, trainer
    from dlcore.nn import activation, loss
    from dlcore.optim import lr_scheduler

    def members(mod, keep, names=None):
        return [(mod.__name__, n, getattr(mod, n)) for n in (names or mod.__all__) if keep(getattr(mod, n))]

    def classes(mod, base):
        return members(mod, lambda o: inspect.isclass(o) and issubclass(o, base))

    def from_family(*families):
        return lambda o: inspect.isclass(o) and issubclass(o, nn.Module) and o.__module__ in families
    nn_layers = members(nn, lambda o: inspect.isclass(o) and issubclass(o, nn.Module) and o.__module__ not in
                        ("dlcore.nn.loss", "dlcore.nn.activation", "dlcore.nn.module"))
    F = nn.functional
    loss_fns = members(F, lambda o: inspect.isfunction(o) and o.__module__ == "dlcore.nn.loss")
    callable_ = lambda o: inspect.isclass(o) or inspect.isfunction(o)  # noqa: E731
    return [
        ("Keras-style layers", "<code>dlcore.layers</code>: lazy layers that take their input size from "
         "the first call and work in <code>dlcore.Sequential</code> and functional "
         "<code>dlcore.Model</code>s.", classes(layers, nn.Module)),
        ("PyTorch-style layers", "<code>dlcore.nn</code> modules (channels-first, PyTorch's names, "
         "arguments and weight layouts).", nn_layers),
        ("Activations", "<code>dlcore.nn</code> activation modules; the functions are in "
         "<code>dlcore.nn.functional</code>.", members(nn, from_family("dlcore.nn.activation"))),
        ("Losses", "Loss modules of <code>dlcore.nn</code> (PyTorch's names, Keras aliases) and their "
         "functions; <code>compile(loss=...)</code> also takes the names "
         + ", ".join(f"<code>{k}</code>" for k in sorted(trainer._LOSS_NAMES)) + ".",
         members(nn, from_family("dlcore.nn.loss")) + loss_fns),
        ("Optimizers", "<code>dlcore.optim</code>; <code>compile(optimizer=...)</code> takes the names "
         + ", ".join(f"<code>{k}</code>" for k in sorted(trainer._OPT_NAMES)) + ".",
         classes(optim, optim.Optimizer)),
        ("Learning-rate schedules", "<code>dlcore.optim.lr_scheduler</code> (PyTorch's); in "
         "<code>fit</code> use the <code>LearningRateScheduler</code> or <code>ReduceLROnPlateau</code> "
         "callbacks.", members(lr_scheduler, callable_)),
        ("Metrics", "<code>dlcore.metrics</code>: streaming metric objects for "
         "<code>compile(metrics=[...])</code> (which also takes the names "
         + ", ".join(f"<code>{k}</code>" for k in sorted(metrics._BY_NAME)) + ") and plain functions.",
         members(metrics, callable_)),
        ("Callbacks", "<code>dlcore.callbacks</code>, for <code>fit(callbacks=[...])</code>.",
         classes(callbacks, callbacks.Callback)),
        ("Training, saving and data", "The model classes and their training API, saving and "
         "loading, data loading.",
         members(dlcore, callable_, ["Sequential", "Model", "Input", "save", "load", "load_model"])
         + members(dlcore.data, callable_) + members(dlcore.datasets, callable_)),
    ]


def write_catalog(out):
    body = "".join(_section(*s) for s in catalog())
    toc = "".join(f'<li><a href="#{t.lower().replace(" ", "-")}">{html.escape(t)}</a></li>' for t, _, _ in catalog())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>dlcore: every building block</title>"
            f"<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{vertical-align:top;"
            f"padding:2px 8px}}</style></head><body><h1>dlcore: every building block</h1><p>Each entry links "
            f"to its documentation (the <a href=\"index.html\">API reference</a>, searchable).</p><ul>{toc}"
            f"</ul>{body}</body></html>")
    (out / "catalog.html").write_text(page)


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.links.append(v)
            if k in ("id", "name") and v:
                self.ids.add(v)


def check_links(out):
    """[(page, link, why)] for every broken relative link under out."""
    parsed = {}

    def parse(p):
        if p not in parsed:
            lp = _Links()
            lp.feed(p.read_text(errors="replace"))
            parsed[p] = lp
        return parsed[p]
    broken, external = [], set()
    for page in sorted(out.rglob("*.html")):
        for link in parse(page).links:
            if link.startswith(("http://", "https://", "mailto:", "javascript:", "data:")):
                external.add(link)
                continue
            path, _, frag = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append((page.relative_to(out), link, "no such file"))
            elif frag and target.suffix == ".html" and frag not in parse(target).ids:
                broken.append((page.relative_to(out), link, f"no id {frag!r} in {target.name}"))
    return broken, sorted(external)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = pathlib.Path(argv[0] if argv else HERE / "_build" / "api").resolve()
    out.mkdir(parents=True, exist_ok=True)
    build_pages(out)
    write_catalog(out)
    broken, external = check_links(out)
    pages = len(list(out.rglob("*.html")))
    print(f"docs: {pages} pages in {out}; {len(external)} external links not fetched (no network)")
    for page, link, why in broken:
        print(f"docs: broken link in {page}: {link} ({why})", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
