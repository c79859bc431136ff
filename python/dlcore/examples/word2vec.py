"""word2vec on real text: the fortunes of Debian's `fortunes` package (every topic file under
/usr/share/games/fortunes; one fortune - the text between lines holding only '%' - is one
sentence, lower-cased words). Trains skip-gram and CBOW with negative sampling through
dlcore.word2vec (gensim's API), prints the nearest neighbours of a few words, saves the models
(and checks that they load back), reports words per second, and - when gensim is installed -
trains gensim on the same corpus with the same settings and compares the neighbours.

    python -m dlcore.examples.word2vec                 # a few minutes on 2 cores
    python -m dlcore.examples.word2vec --full          # 20 epochs instead of 5
    python -m dlcore.examples.word2vec --archs sg      # skip-gram only

The comparison with gensim (a test-time reference, not a dependency) uses two numbers per
model: the mean overlap of the top-10 neighbour sets of the 200 most frequent words that are not
among the 50 most frequent, and Spearman's rank correlation of the cosine similarities of 5,000
random pairs of the 1,000 most frequent words. gensim against itself with another seed gives
the agreement two equally good runs reach on this small corpus.
"""
from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from dlcore.word2vec import Word2Vec

from . import _common

try:
    import gensim
except ImportError:  # a test-time reference only
    gensim = None

__all__ = ["FORTUNES_DIR", "read_fortunes", "neighbour_overlap", "similarity_correlation", "parse_args", "main"]

FORTUNES_DIR = "/usr/share/games/fortunes"
PROBES = ["computer", "love", "money", "woman", "war", "god", "food", "law", "program", "happy"]
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def read_fortunes(directory=FORTUNES_DIR):
    """The fortunes of every topic file in `directory` (not the .dat indexes or the .u8 links),
    each a list of lower-cased words; files in sorted order. Exits with a clear message when the
    package is not installed (apt-get install fortunes)."""
    if not os.path.isdir(directory):
        print(f"error: {directory} not found (apt-get install fortunes)", file=sys.stderr)
        raise SystemExit(2)
    sentences = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if "." in name or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for fortune in re.split(r"^%$", text, flags=re.M):
            words = _WORD.findall(fortune.lower())
            if words:
                sentences.append(words)
    if not sentences:
        print(f"error: no fortunes found in {directory}", file=sys.stderr)
        raise SystemExit(2)
    return sentences


def _vectors(model, words):
    """Unit vectors (NumPy) of `words` under a dlcore or a gensim model."""
    v = np.stack([np.asarray(model.wv[w], np.float64) for w in words])
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def neighbour_overlap(a, b, words, topn=10):
    """Mean size of the intersection of the top-n neighbour sets of `words` in two models
    (dlcore's or gensim's), divided by n."""
    tot = 0
    for w in words:
        sa = {k for k, _ in a.wv.most_similar(w, topn=topn)}
        sb = {k for k, _ in b.wv.most_similar(w, topn=topn)}
        tot += len(sa & sb)
    return tot / (topn * len(words))


def _ranks(x):
    r = np.empty(len(x))
    r[np.argsort(x, kind="mergesort")] = np.arange(len(x))
    return r


def similarity_correlation(a, b, pairs):
    """Spearman's rank correlation of the two models' cosine similarities over word pairs."""
    left, right = [p[0] for p in pairs], [p[1] for p in pairs]
    sims = [(_vectors(m, left) * _vectors(m, right)).sum(1) for m in (a, b)]
    return float(np.corrcoef(_ranks(sims[0]), _ranks(sims[1]))[0, 1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.word2vec",
                                description="word2vec (skip-gram and CBOW) on the fortunes corpus.")
    p.add_argument("--archs", default="sg,cbow", help="comma-separated: sg, cbow")
    p.add_argument("--epochs", type=int, default=None, help="default 5 (20 with --full)")
    p.add_argument("--vector-size", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--batch-words", type=int, default=2000, help="examples per SGD step")
    p.add_argument("--fortunes", default=FORTUNES_DIR, help="directory of the fortune files")
    p.add_argument("--save-dir", default=".", help="where the trained models are written")
    p.add_argument("--no-gensim", action="store_true", help="skip the comparison with gensim")
    return _common.add_common_args(p).parse_args(argv)


def main(argv=None):
    """Runs the example; returns {arch: {'model', 'words_per_second', 'seconds', 'neighbours',
    'path', and with gensim 'gensim_words_per_second', 'overlap', 'overlap_gensim_seeds',
    'spearman', 'spearman_gensim_seeds'}} plus 'corpus' (sentences, words, vocabulary)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    epochs = args.epochs or (20 if args.full else 5)
    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    if not archs or set(archs) - {"sg", "cbow"}:
        raise SystemExit(f"error: --archs takes sg and / or cbow, got {args.archs!r}")
    sentences = read_fortunes(args.fortunes)
    n_words = sum(len(s) for s in sentences)
    print(f"fortunes: {len(sentences)} fortunes, {n_words} words; {epochs} epochs, vector_size {args.vector_size}, "
          f"window {args.window}, min_count {args.min_count}, negative {args.negative}")
    settings = dict(vector_size=args.vector_size, window=args.window, min_count=args.min_count,
                    negative=args.negative, epochs=epochs, seed=args.seed + 1, workers=2)
    res = {}
    for arch in archs:
        sg = int(arch == "sg")
        model = Word2Vec(sentences, sg=sg, batch_words=args.batch_words, **settings)
        r = res[arch] = {"model": model, "words_per_second": model.words_per_second, "seconds": model.train_seconds,
                         "losses": model.losses}
        probes = [w for w in PROBES if w in model.wv]
        r["neighbours"] = {w: model.wv.most_similar(w, topn=8) for w in probes}
        print(f"{arch}: {len(model.wv)} words in the vocabulary, trained in {model.train_seconds:.1f} s "
              f"({model.words_per_second:,.0f} words/s); loss per example by epoch: "
              + ", ".join(f"{v:.3f}" for v in model.losses))
        if not args.quiet:
            for w, nb in r["neighbours"].items():
                print(f"  {w:>9}: " + ", ".join(f"{k} ({s:.2f})" for k, s in nb))
        os.makedirs(args.save_dir, exist_ok=True)
        r["path"] = path = os.path.join(args.save_dir, f"word2vec_{arch}.safetensors")
        model.save(path)
        back = Word2Vec.load(path)
        assert back.wv.index_to_key == model.wv.index_to_key and probes and \
            back.wv.most_similar(probes[0]) == model.wv.most_similar(probes[0]), "the saved model loads back changed"
        print(f"  saved to {path} (loads back identical)")
        if gensim is None or args.no_gensim:
            continue
        refs = []
        for seed in (settings["seed"], settings["seed"] + 1):
            t = _common.Timer()
            refs.append(gensim.models.Word2Vec(sentences, sg=sg, **dict(settings, seed=seed)))
            if seed == settings["seed"]:
                r["gensim_words_per_second"] = n_words * epochs / t()
        g, g2 = refs
        vocab = [w for w in model.wv.index_to_key if w in g.wv and w in g2.wv]
        probe_words = vocab[50:250]
        rng = np.random.default_rng(args.seed)
        top = vocab[:1000]
        pairs = [tuple(rng.choice(top, 2, replace=False)) for _ in range(5000)]
        r.update(overlap=neighbour_overlap(model, g, probe_words),
                 overlap_gensim_seeds=neighbour_overlap(g2, g, probe_words),
                 spearman=similarity_correlation(model, g, pairs),
                 spearman_gensim_seeds=similarity_correlation(g2, g, pairs))
        print(f"  against gensim {gensim.__version__} ({r['gensim_words_per_second']:,.0f} words/s, 2 workers): "
              f"top-10 neighbour overlap {r['overlap']:.2f} (gensim against gensim with another seed "
              f"{r['overlap_gensim_seeds']:.2f}), Spearman of pair similarities {r['spearman']:.2f} "
              f"({r['spearman_gensim_seeds']:.2f})")
    res["corpus"] = {"sentences": len(sentences), "words": n_words,
                     "vocabulary": len(res[archs[0]]["model"].wv)}
    seconds = timer()
    if args.write_results:
        have_g = "overlap" in res[archs[0]]
        head = "| model | words/s (dlcore) | loss per example, first -> last epoch |"
        sep = "|---|---|---|"
        if have_g:
            head += " words/s (gensim, 2 workers) | top-10 overlap with gensim (gensim vs gensim) | " \
                    "Spearman with gensim (gensim vs gensim) |"
            sep += "---|---|---|"
        rows = [head, sep]
        for arch in archs:
            r = res[arch]
            row = f"| {'skip-gram' if arch == 'sg' else 'CBOW'} | {r['words_per_second']:,.0f} | " \
                  f"{r['losses'][0]:.3f} -> {r['losses'][-1]:.3f} |"
            if have_g:
                row += f" {r['gensim_words_per_second']:,.0f} | {r['overlap']:.2f} " \
                       f"({r['overlap_gensim_seeds']:.2f}) | {r['spearman']:.2f} ({r['spearman_gensim_seeds']:.2f}) |"
            rows.append(row)
        c = res["corpus"]
        rows += ["", f"Corpus: Debian's `fortunes` package, {c['sentences']} fortunes, {c['words']} words, "
                 f"{c['vocabulary']} words seen at least {args.min_count} times. Settings (both libraries): "
                 f"vector_size {args.vector_size}, window {args.window}, negative {args.negative}, {epochs} epochs, "
                 f"sample 1e-3, alpha 0.025 -> 0.0001; dlcore takes SGD steps of {args.batch_words} examples. "
                 "Overlap: the top-10 neighbour sets of the 200 words after the 50 most frequent; Spearman: "
                 "cosine similarities of 5,000 random pairs of the 1,000 most frequent words. In brackets: "
                 "gensim against gensim run with another seed (how much two equally good runs agree here)."]
        for arch in archs:
            rows += ["", f"Nearest neighbours ({'skip-gram' if arch == 'sg' else 'CBOW'}, dlcore):", ""]
            rows += [f"- **{w}**: " + ", ".join(k for k, _ in nb) for w, nb in res[arch]["neighbours"].items()]
        _common.write_results(args, "word2vec", "word2vec on the fortunes corpus", argv, rows, seconds=seconds)
        print(f"wrote {args.results_file}")
    return res


if __name__ == "__main__":
    main()
