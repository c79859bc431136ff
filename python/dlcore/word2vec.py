"""word2vec with gensim's API: skip-gram and CBOW with negative sampling, trained with dlcore ops.

    from dlcore.word2vec import Word2Vec
    model = Word2Vec(sentences, vector_size=100, window=5, min_count=5, workers=4, sg=1, seed=1)
    model.wv["computer"]                          # the word's vector (a dlcore Tensor)
    model.wv.similarity("computer", "program")    # cosine similarity (a float)
    model.wv.most_similar("computer", topn=10)    # [(word, cosine), ...]
    model.save("w2v.safetensors"); Word2Vec.load("w2v.safetensors")

`sentences` is an iterable of lists of tokens (strings), as in gensim. Training follows
word2vec's recipe (and gensim's defaults): a vocabulary of the words seen at least `min_count`
times, frequent words dropped at random (`sample`), for each kept word a window of random size
1..`window`, `negative` noise words per example drawn from the unigram distribution raised to
`ns_exponent` (0.75), input vectors initialised uniform in +-0.5 / vector_size and output
vectors at zero, and plain SGD whose learning rate falls linearly from `alpha` to `min_alpha`
over the whole run. It differs from gensim in how the SGD steps are batched: each step takes a
batch of `batch_words` examples - (input vector, target output vector, noise output vectors),
the input being a word's vector (skip-gram) or the mean of its context's vectors (CBOW) -
computes `sgns_loss` (summed over the batch, so the learning rate means per example what it
means in gensim) and its gradient with dlcore's autograd, and adds the rows' gradients into the
two tables with `index_add_` (in CBOW each context word takes the whole gradient of the
context's mean, as in word2vec.c and gensim). Examples are shuffled within each epoch so that one batch holds
unrelated words. `workers` is accepted for compatibility: dlcore's ops run on its own thread
pool (`dlcore.set_num_threads`). Everything random comes from one dlcore Generator seeded by
`seed`, so a run repeats exactly.

Files: `save` writes one safetensors file with `dlcore.save` (the two tables, the vocabulary and
the settings as JSON metadata); no pickle.
"""
from __future__ import annotations

import collections
import heapq
import math
import time

from . import autograd
from .nn import functional as F
from .serialization import load, save
from .dtype import bool_, float32, float64, int64
from .tensor import Generator, cat, rand, randint, randperm, stack, tensor, zeros

__all__ = ["Word2Vec", "KeyedVectors", "sgns_loss"]

FORMAT = "dlcore.word2vec/1"
NOISE_TABLE = 1_000_000  # slots of the noise-word table (word2vec.c uses 1e8)


def sgns_loss(input, positive, negative, reduction="sum"):
    """The skip-gram negative-sampling loss of a batch: for input vectors v (B, D), the target
    words' output vectors u (B, D) and the noise words' output vectors n (B, K, D),
    -log sigmoid(v . u) - sum_k log sigmoid(-v . n_k) per example, summed (reduction='sum',
    word2vec's SGD), averaged ('mean') or returned per example ('none')."""
    if input.ndim != 2 or positive.shape != input.shape or negative.ndim != 3 or \
            negative.shape[0] != input.shape[0] or negative.shape[2] != input.shape[1]:
        raise ValueError(f"sgns_loss: expects input (B, D), positive (B, D) and negative (B, K, D), got "
                         f"{tuple(input.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}")
    if reduction not in ("sum", "mean", "none"):
        raise ValueError(f"sgns_loss: reduction must be 'sum', 'mean' or 'none', got {reduction!r}")
    pos = (input * positive).sum(-1)
    neg = (negative @ input.unsqueeze(2)).squeeze(2)
    loss = -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1))
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


class KeyedVectors:
    """Word vectors by word (gensim's KeyedVectors): `kv[word]`, `similarity`, `most_similar`,
    `index_to_key` (words, most frequent first), `key_to_index`, `vectors` ((V, D) Tensor)."""

    def __init__(self, vector_size, index_to_key=(), vectors=None):
        self.vector_size = int(vector_size)
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = vectors if vectors is not None else zeros(len(self.index_to_key), self.vector_size)
        self._normed = None

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def get_index(self, key):
        """The row of `key`; KeyError (naming the key) for a word outside the vocabulary."""
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"KeyedVectors: the word {key!r} is not in the vocabulary ({len(self)} words)") from None

    def get_vector(self, key, norm=False):
        """The vector of `key` (a (D,) Tensor, a copy); norm=True scales it to unit length."""
        return (self.get_normed_vectors() if norm else self.vectors)[self.get_index(key)].clone()

    def __getitem__(self, keys):
        if isinstance(keys, str):
            return self.get_vector(keys)
        return stack([self.get_vector(k) for k in keys])

    def get_normed_vectors(self):
        """The vectors scaled to unit length ((V, D), computed once after training)."""
        if self._normed is None:
            n = self.vectors.norm(dim=1, keepdim=True).clamp(1e-12)
            self._normed = self.vectors / n
        return self._normed

    def similarity(self, w1, w2):
        """Cosine similarity of two words' vectors (a float)."""
        nv = self.get_normed_vectors()
        return float((nv[self.get_index(w1)] * nv[self.get_index(w2)]).sum().item())

    def most_similar(self, positive=None, negative=None, topn=10):
        """The `topn` words closest (by cosine) to the mean of the unit vectors of `positive`
        minus those of `negative` (words; one word may be given as a string), the query words
        left out: a list of (word, similarity), most similar first."""
        positive = [positive] if isinstance(positive, str) else list(positive or [])
        negative = [negative] if isinstance(negative, str) else list(negative or [])
        if not positive and not negative:
            raise ValueError("most_similar: give at least one word in 'positive' or 'negative'")
        nv = self.get_normed_vectors()
        q = None
        for words, sign in ((positive, 1.0), (negative, -1.0)):
            for w in words:
                v = nv[self.get_index(w)] * sign
                q = v if q is None else q + v
        q = q / q.norm().clamp(1e-12)
        sims = (nv @ q).tolist()
        skip = {self.key_to_index[w] for w in positive + negative}
        best = heapq.nlargest(int(topn) + len(skip), range(len(sims)), key=sims.__getitem__)
        return [(self.index_to_key[i], sims[i]) for i in best if i not in skip][:int(topn)]


class Word2Vec:
    """Skip-gram (sg=1) or CBOW (sg=0) word2vec with negative sampling; gensim's arguments and
    defaults. Trains at construction when `sentences` is given (as gensim does); `wv` holds the
    word vectors, `syn1neg` the output vectors. See the module's docstring for the method."""

    def __init__(self, sentences=None, vector_size=100, alpha=0.025, window=5, min_count=5, sample=1e-3,
                 seed=1, workers=3, min_alpha=0.0001, sg=0, hs=0, negative=5, ns_exponent=0.75, cbow_mean=1,
                 epochs=5, batch_words=2000, max_final_vocab=None):
        if hs:
            raise ValueError("Word2Vec: hierarchical softmax (hs=1) is not implemented; use negative sampling "
                             "(hs=0, negative > 0)")
        if negative < 1:
            raise ValueError(f"Word2Vec: negative must be at least 1 (negative sampling), got {negative}")
        for name, v in (("vector_size", vector_size), ("window", window), ("epochs", epochs),
                        ("batch_words", batch_words)):
            if int(v) != v or v < 1:
                raise ValueError(f"Word2Vec: {name} must be a positive integer, got {v!r}")
        if int(min_count) != min_count or min_count < 0:
            raise ValueError(f"Word2Vec: min_count must be a non-negative integer, got {min_count!r}")
        self.vector_size, self.alpha, self.window, self.min_count = int(vector_size), float(alpha), int(window), \
            int(min_count)
        self.sample, self.seed, self.workers, self.min_alpha = float(sample), int(seed), int(workers), \
            float(min_alpha)
        self.sg, self.negative, self.ns_exponent, self.cbow_mean = int(sg), int(negative), float(ns_exponent), \
            int(cbow_mean)
        self.epochs, self.batch_words, self.max_final_vocab = int(epochs), int(batch_words), max_final_vocab
        self.wv = KeyedVectors(self.vector_size)
        self.syn1neg = None
        self.counts = []
        self.corpus_count = self.corpus_total_words = 0
        self.train_seconds, self.words_per_second, self.losses = 0.0, 0.0, []
        self.generator = Generator(self.seed)
        if sentences is not None:
            sentences = _sentence_list(sentences)
            self.build_vocab(sentences)
            self.train(sentences, total_examples=self.corpus_count, epochs=self.epochs)

    # ---- vocabulary ----
    def build_vocab(self, sentences):
        """Counts the words, keeps those seen at least min_count times (most frequent first; at
        most max_final_vocab), and initialises the vectors from the seeded generator."""
        sentences = _sentence_list(sentences)
        counts = collections.Counter()
        for s in sentences:
            counts.update(s)
        kept = sorted(((c, w) for w, c in counts.items() if c >= self.min_count), key=lambda cw: (-cw[0], cw[1]))
        if self.max_final_vocab:
            kept = kept[:int(self.max_final_vocab)]
        if not kept:
            raise ValueError(f"Word2Vec.build_vocab: no word occurs at least min_count={self.min_count} times "
                             f"in {len(sentences)} sentences")
        self.counts = [c for c, _ in kept]
        self.corpus_count = len(sentences)
        self.corpus_total_words = sum(counts.values())
        d = self.vector_size
        vecs = (rand(len(kept), d, generator=self.generator) - 0.5) / d
        self.wv = KeyedVectors(d, [w for _, w in kept], vecs)
        self.syn1neg = zeros(len(kept), d)
        self._make_tables()

    def _make_tables(self):
        """The noise-word table (each word's share of slots proportional to count**ns_exponent)
        and each word's keep probability under subsampling (word2vec.c's formula)."""
        weights = [c ** self.ns_exponent for c in self.counts]
        total, size = sum(weights), max(NOISE_TABLE, 10 * len(weights))
        table, acc = [], 0.0
        for i, w in enumerate(weights):  # word i fills its share of the slots (cumulative rounding)
            acc += w
            table.extend([i] * (round(acc / total * size) - len(table)))
        self._noise_table = tensor(table, dtype=int64)
        n_words = sum(self.counts)
        if self.sample > 0:
            thr = self.sample * n_words
            keep = [min(1.0, (math.sqrt(c / thr) + 1.0) * thr / c) for c in self.counts]
        else:
            keep = [1.0] * len(self.counts)
        self._keep = tensor(keep, dtype=float64)

    # ---- training ----
    def _encode(self, sentences):
        """All in-vocabulary tokens of the corpus as word indices, with their sentence numbers."""
        idx, sid = [], []
        k2i = self.wv.key_to_index
        for n, s in enumerate(sentences):
            ids = [k2i[w] for w in s if w in k2i]
            idx.extend(ids)
            sid.extend([n] * len(ids))
        return tensor(idx, dtype=int64), tensor(sid, dtype=int64)

    def _noise(self, n):
        """n noise words from the unigram^ns_exponent distribution (uniform slots of the table)."""
        slots = randint(0, self._noise_table.shape[0], (n,), generator=self.generator)
        return self._noise_table.index_select(0, slots)

    def _epoch_examples(self, tok, sid):
        """One epoch's examples after subsampling, shuffled: (inputs, targets), where inputs are
        word indices (skip-gram, (N,)) or context windows ((N, 2 * window) indices and a 0/1
        mask of the same shape, CBOW)."""
        g = self.generator
        keep = rand(tok.shape[0], dtype=float64, generator=g) < self._keep[tok]
        tok, sid = tok[keep], sid[keep]
        n, w = tok.shape[0], self.window
        reach = randint(1, w + 1, (n,), generator=g)  # each word's window size, 1..window
        if self.sg:
            ins, outs = [], []
            for d in range(1, min(w, n - 1) + 1):
                same = sid[d:] == sid[:-d]
                right = same & (reach[:-d] >= d)  # the left word's window reaches d to the right
                left = same & (reach[d:] >= d)
                ins += [tok[d:][right], tok[:-d][left]]
                outs += [tok[:-d][right], tok[d:][left]]
            if not ins:  # a corpus of one word: no pairs
                return zeros(0, dtype=int64), zeros(0, dtype=int64)
            ins, outs = cat(ins), cat(outs)
            perm = randperm(ins.shape[0], generator=g)
            return ins[perm], outs[perm]
        cols, masks = [], []
        zi, zb = zeros(n, dtype=int64), zeros(n, dtype=bool_)
        for d in range(-w, w + 1):
            if d == 0:
                continue
            a = abs(d)
            if a >= n:
                cols.append(zi)
                masks.append(zb)
                continue
            if d > 0:  # the word d places to the right
                col = cat([tok[d:], zi[:d]])
                ok = cat([(sid[d:] == sid[:-d]) & (reach[:-d] >= d), zb[:d]])
            else:
                col = cat([zi[:a], tok[:-a]])
                ok = cat([zb[:a], (sid[:-a] == sid[a:]) & (reach[a:] >= a)])
            cols.append(col)
            masks.append(ok)
        ctx, mask = stack(cols, 1), stack(masks, 1).to(float32)
        has = mask.sum(1) > 0
        ctx, mask, tok = ctx[has], mask[has], tok[has]
        perm = randperm(tok.shape[0], generator=g)
        return (ctx[perm], mask[perm]), tok[perm]

    def train(self, sentences, total_examples=None, total_words=None, epochs=None):
        """Trains on `sentences` for `epochs` epochs (default: the constructor's); gensim's
        total_examples / total_words are accepted and not needed (the corpus is read into a
        list, so its size is known). Records
        `train_seconds`, `words_per_second` (corpus words, before subsampling, per second) and
        `losses` (the mean loss per example of every epoch). Returns (words kept after
        subsampling, corpus words)."""
        if self.syn1neg is None:
            raise RuntimeError("Word2Vec.train: call build_vocab(sentences) first")
        sentences = _sentence_list(sentences)
        epochs = int(epochs or self.epochs)
        tok, sid = self._encode(sentences)
        total_words = sum(len(s) for s in sentences) * epochs
        win, wout = self.wv.vectors, self.syn1neg
        t0 = time.perf_counter()
        effective = 0
        plans = []
        for epoch in range(epochs):
            ins, targets = self._epoch_examples(tok, sid)
            n = targets.shape[0]
            effective += n
            plans.append(n)
            total_loss = 0.0
            done_before = sum(plans[:-1])
            approx_total = n * epochs  # every epoch has about as many examples
            for start in range(0, n, self.batch_words):
                stop = min(n, start + self.batch_words)
                progress = (done_before + start) / max(1, approx_total)
                lr = max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * progress)
                tgt = targets[start:stop]
                noise = self._noise((stop - start) * self.negative)
                u = wout.index_select(0, tgt).requires_grad_()
                un = wout.index_select(0, noise).reshape(stop - start, self.negative, self.vector_size).requires_grad_()
                d = self.vector_size
                if self.sg:
                    src = ins[start:stop]
                    h = win.index_select(0, src).requires_grad_()
                else:
                    ctx, mask = ins[0][start:stop], ins[1][start:stop].unsqueeze(2)
                    src = ctx.reshape(-1)
                    h = (win.index_select(0, src).reshape(stop - start, ctx.shape[1], d) * mask).sum(1)
                    if self.cbow_mean:
                        h = h / mask.sum(1)
                    h.requires_grad_()
                with autograd.enable_grad():
                    loss = sgns_loss(h, u, un)
                    loss.backward()
                total_loss += loss.item()
                with autograd.no_grad():
                    # CBOW: every context word takes the whole gradient of h (word2vec.c's and
                    # gensim's rule, also with cbow_mean), not its 1/count share
                    gin = h.grad if self.sg else (h.grad.unsqueeze(1) * mask).reshape(-1, d)
                    win.index_add_(0, src, gin, alpha=-lr)
                    wout.index_add_(0, tgt, u.grad, alpha=-lr)
                    wout.index_add_(0, noise, un.grad.reshape(-1, d), alpha=-lr)
            self.losses.append(total_loss / max(1, n))
        self.wv._normed = None
        self.train_seconds = time.perf_counter() - t0
        self.words_per_second = total_words / max(self.train_seconds, 1e-9)
        return effective, total_words

    # ---- files ----
    def _settings(self):
        return {k: getattr(self, k) for k in ("vector_size", "alpha", "window", "min_count", "sample", "seed",
                                              "workers", "min_alpha", "sg", "negative", "ns_exponent",
                                              "cbow_mean", "epochs", "batch_words", "max_final_vocab")}

    def save(self, path):
        """Writes the model to one safetensors file (dlcore.save: the input and output vectors,
        the vocabulary with its counts and the settings as JSON; no pickle)."""
        save({"format": FORMAT, "settings": self._settings(), "index_to_key": self.wv.index_to_key,
              "counts": self.counts, "corpus_count": self.corpus_count,
              "corpus_total_words": self.corpus_total_words, "vectors": self.wv.vectors,
              "syn1neg": self.syn1neg}, path)

    @classmethod
    def load(cls, path):
        """Reads a model written by `save`; ValueError for another kind of file."""
        d = load(path)
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"Word2Vec.load: {path!r} is not a dlcore word2vec file (format {FORMAT})")
        m = cls(**d["settings"])
        m.counts, m.corpus_count, m.corpus_total_words = list(d["counts"]), d["corpus_count"], \
            d["corpus_total_words"]
        vec, out = d["vectors"].detach(), d["syn1neg"].detach()
        if vec.shape != (len(d["index_to_key"]), m.vector_size) or out.shape != vec.shape:
            raise ValueError(f"Word2Vec.load: the vectors' shapes {tuple(vec.shape)} / {tuple(out.shape)} do not "
                             f"match {len(d['index_to_key'])} words of size {m.vector_size}")
        m.wv = KeyedVectors(m.vector_size, d["index_to_key"], vec)
        m.syn1neg = out
        m._make_tables()
        return m


def _sentence_list(sentences):
    """The corpus as a list of token lists (a generator is read once)."""
    if isinstance(sentences, (str, bytes)):
        raise TypeError("Word2Vec: sentences must be an iterable of token lists, got a string")
    out = [list(s) for s in sentences]
    for s in out[:1]:
        if s and not isinstance(s[0], str):
            raise TypeError(f"Word2Vec: tokens must be strings, got {type(s[0]).__name__}")
    return out

