"""dlcore.word2vec (issue 15): the SGNS loss and its gradients against PyTorch in float64;
gensim's API semantics (vocabulary order and min_count, wv[...], similarity as cosine,
most_similar's exclusions and order, errors); learning on a synthetic corpus with planted
co-occurrence groups, for skip-gram and CBOW; seeded runs repeat; save / load round trip with no
pickle; and, when gensim is installed, agreement with gensim on the same corpus."""
import json
import os
import random
import shutil
import struct

import numpy as np
import pytest

import dlcore
from dlcore.word2vec import KeyedVectors, Word2Vec, sgns_loss

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the reference) is not installed")
FORTUNES = "/usr/share/games/fortunes"


def _torch_sgns(v, u, n):
    F = torch.nn.functional
    return -(F.logsigmoid((v * u).sum(-1)) + F.logsigmoid(-(n * v.unsqueeze(1)).sum(-1)).sum(-1))


@needs_torch
def test_sgns_loss_and_gradients_match_torch_float64():
    rng = np.random.default_rng(0)
    arrays = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 3, 4))
    g = rng.normal(size=6)
    ours = [dlcore.tensor(a, dtype=dlcore.float64, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    per = _torch_sgns(*ref)
    for red, want in (("none", per), ("sum", per.sum()), ("mean", per.mean())):
        np.testing.assert_allclose(sgns_loss(*ours, reduction=red).detach().numpy(), want.detach().numpy(),
                                   rtol=1e-12, atol=1e-12)
    (sgns_loss(*ours, reduction="none") * dlcore.tensor(g)).sum().backward()
    (per * torch.tensor(g)).sum().backward()
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="sgns_loss.*negative"):
        sgns_loss(ours[0], ours[1], ours[1])


@needs_torch
def test_index_add_matches_torch():
    w = dlcore.zeros(5, 3)
    idx, src = [0, 2, 0, 4], np.arange(12.0, dtype=np.float32).reshape(4, 3)
    w.index_add_(0, dlcore.tensor(idx), dlcore.tensor(src), alpha=-0.5)
    tw = torch.zeros(5, 3).index_add_(0, torch.tensor(idx), torch.tensor(src), alpha=-0.5)
    np.testing.assert_array_equal(w.numpy(), tw.numpy())
    p = dlcore.zeros(5, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="index_add_"):
        p.index_add_(0, dlcore.tensor(idx), dlcore.tensor(src))
    with dlcore.no_grad():
        p.index_add_(1, dlcore.tensor([2, 2]), dlcore.ones(5, 2))
    assert p.detach().numpy()[:, 2].tolist() == [2.0] * 5


def planted_corpus(groups=4, size=5, sentences=600, length=8, seed=0):
    """Sentences each drawn from one group of words only: words of a group co-occur, words of
    different groups never do."""
    rng = random.Random(seed)
    vocab = [[f"g{g}w{i}" for i in range(size)] for g in range(groups)]
    return vocab, [[rng.choice(vocab[s % groups]) for _ in range(length)] for s in range(sentences)]


@pytest.mark.parametrize("sg", [1, 0])
def test_learns_the_planted_groups(sg):
    vocab, corpus = planted_corpus()
    m = Word2Vec(corpus, vector_size=16, window=3, min_count=1, sg=sg, negative=5, epochs=5, seed=3,
                 sample=0, batch_words=256)
    assert m.losses[-1] < m.losses[0]
    hits = 0
    for group in vocab:
        for w in group:
            near = {k for k, _ in m.wv.most_similar(w, topn=len(group) - 1)}
            hits += len(near & set(group))
    assert hits >= 0.9 * len(vocab) * len(vocab[0]) * (len(vocab[0]) - 1)
    assert m.wv.similarity("g0w0", "g0w1") > m.wv.similarity("g0w0", "g1w1") + 0.3


def test_api_semantics():
    corpus = [["a", "b", "c", "a"], ["b", "a", "d"], ["e"]] * 3
    m = Word2Vec(corpus, vector_size=8, min_count=3, epochs=1, seed=1, workers=4)
    assert m.wv.index_to_key == ["a", "b", "c", "d", "e"]  # by count, ties by word
    assert m.wv.key_to_index == {w: i for i, w in enumerate("abcde")}
    assert m.counts == [9, 6, 3, 3, 3] and m.corpus_count == 9 and m.corpus_total_words == 24
    assert len(m.wv) == 5 and "a" in m.wv and "z" not in m.wv
    assert tuple(m.wv["a"].shape) == (8,) and tuple(m.wv[["a", "b"]].shape) == (2, 8)
    va, vb = m.wv["a"].numpy().astype(np.float64), m.wv["b"].numpy().astype(np.float64)
    assert m.wv.similarity("a", "b") == pytest.approx(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb), rel=1e-5)
    assert m.wv.similarity("a", "b") == pytest.approx(m.wv.similarity("b", "a"))
    near = m.wv.most_similar("a", topn=3)
    assert len(near) == 3 and "a" not in {k for k, _ in near}
    assert [s for _, s in near] == sorted((s for _, s in near), reverse=True)
    assert near[0][1] == pytest.approx(m.wv.similarity("a", near[0][0]), rel=1e-5)
    mixed = m.wv.most_similar(positive=["a", "b"], negative=["c"], topn=10)
    assert {k for k, _ in mixed} == {"d", "e"}
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        m.wv["z"]
    with pytest.raises(ValueError, match="hierarchical softmax"):
        Word2Vec(corpus, hs=1)
    with pytest.raises(ValueError, match="min_count=10"):
        Word2Vec(corpus, min_count=10)
    with pytest.raises(ValueError, match="window must be a positive integer, got 0"):
        Word2Vec(corpus, window=0)
    with pytest.raises(ValueError, match="min_count must be a non-negative integer, got -1"):
        Word2Vec(corpus, min_count=-1)
    with pytest.raises(TypeError, match="strings"):
        Word2Vec([[1, 2, 3]], min_count=1)
    with pytest.raises(TypeError, match="string"):
        Word2Vec("a b c")
    assert isinstance(m.wv, KeyedVectors)


def test_seeded_runs_repeat_and_seeds_differ():
    _, corpus = planted_corpus(sentences=120)
    runs = [Word2Vec(corpus, vector_size=8, min_count=1, sg=1, epochs=2, seed=s, batch_words=128) for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0].wv.vectors.numpy(), runs[1].wv.vectors.numpy())
    np.testing.assert_array_equal(runs[0].syn1neg.numpy(), runs[1].syn1neg.numpy())
    assert not np.array_equal(runs[0].wv.vectors.numpy(), runs[2].wv.vectors.numpy())


def test_save_load_round_trip_without_pickle(tmp_path):
    _, corpus = planted_corpus(sentences=120)
    m = Word2Vec(corpus, vector_size=8, min_count=1, sg=0, epochs=2, seed=2, batch_words=128)
    path = tmp_path / "w2v.safetensors"
    m.save(str(path))
    raw = path.read_bytes()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])  # a plain safetensors file: JSON header, then the tensors
    assert {"vectors", "syn1neg"} <= set(header) and b"pickle" not in raw[:8 + n]
    back = Word2Vec.load(str(path))
    assert back.wv.index_to_key == m.wv.index_to_key and back.counts == m.counts
    np.testing.assert_array_equal(back.wv.vectors.numpy(), m.wv.vectors.numpy())
    np.testing.assert_array_equal(back.syn1neg.numpy(), m.syn1neg.numpy())
    assert back.wv.most_similar("g0w0") == m.wv.most_similar("g0w0")
    assert (back.sg, back.window, back.vector_size, back.negative) == (m.sg, m.window, m.vector_size, m.negative)
    back.train(corpus, epochs=1)  # a loaded model trains on
    dlcore.save({"w": dlcore.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a dlcore word2vec file"):
        Word2Vec.load(str(tmp_path / "other.safetensors"))


@pytest.mark.parametrize("sg", [1, 0])
def test_agrees_with_gensim_on_the_planted_corpus(sg):
    gensim = pytest.importorskip("gensim")
    vocab, corpus = planted_corpus(groups=5, size=6, sentences=800)
    kw = dict(vector_size=16, window=3, min_count=1, sg=sg, negative=5, epochs=5, sample=0)
    ours = Word2Vec(corpus, seed=1, batch_words=256, **kw)
    ref = gensim.models.Word2Vec(corpus, seed=1, workers=1, **kw)
    words = [w for g in vocab for w in g]
    pairs = [(a, b) for i, a in enumerate(words) for b in words[i + 1:]]
    s_ours = [ours.wv.similarity(a, b) for a, b in pairs]
    s_ref = [float(ref.wv.similarity(a, b)) for a, b in pairs]
    # the same structure: high within a group, low across (a planted corpus leaves no finer one)
    assert np.corrcoef(s_ours, s_ref)[0, 1] > 0.9
    overlap = np.mean([len({k for k, _ in ours.wv.most_similar(w, topn=5)} &
                           {k for k, _ in ref.wv.most_similar(w, topn=5)}) / 5 for w in words])
    assert overlap > 0.8


@pytest.mark.skipif(not os.path.isdir(FORTUNES), reason="the fortunes package is not installed (apt-get install fortunes)")
def test_example_on_a_few_fortune_files(tmp_path):
    from dlcore.examples import word2vec as example
    corpus = tmp_path / "fortunes"
    corpus.mkdir()
    for topic in ("science", "work", "linux"):  # a small real corpus: seconds, not minutes
        shutil.copy(os.path.join(FORTUNES, topic), corpus / topic)
    (corpus / "science.dat").write_bytes(b"\0" * 8)  # the index files are left out
    sentences = example.read_fortunes(str(corpus))
    assert 1000 < len(sentences) < 5000 and all(s and all(w == w.lower() for w in s) for s in sentences)
    r = example.main(["--fortunes", str(corpus), "--epochs", "3", "--no-gensim", "--quiet", "--write-results",
                      "--save-dir", str(tmp_path), "--results-file", str(tmp_path / "RESULTS.md")])
    for arch in ("sg", "cbow"):
        assert r[arch]["losses"][-1] < r[arch]["losses"][0] and r[arch]["words_per_second"] > 0
        back = Word2Vec.load(r[arch]["path"])
        assert back.sg == (arch == "sg") and back.wv.index_to_key == r[arch]["model"].wv.index_to_key
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.count("<!-- results:word2vec -->") == 1 and "skip-gram" in text and "CBOW" in text
