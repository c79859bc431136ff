"""The text examples (issue 15) learn on tiny real-data settings that take seconds: the character
language models beat the unigram (no-context) baseline, the topic classifier beats the
majority class; PyTorch, built from the same model definition with the weights copied, starts
from the same validation loss and follows the same training curve. The fortunes reader finds
the corpus only where it is told to and names the Debian package when it is missing. Skipped
without the corpus (apt-get install fortunes)."""

import numpy as np
import pytest

import dlcore
from dlcore.examples import char_lm, text_classifier

try:
    dlcore.datasets.fortunes()
    HAVE_DATA = True
except FileNotFoundError:
    HAVE_DATA = False

needs_corpus = pytest.mark.skipif(not HAVE_DATA, reason="fortunes corpus not installed (apt-get install fortunes)")

try:
    import torch
except ImportError:
    torch = None


def _out(tmp_path):
    return ["--quiet", "--threads", "1", "--results-file", str(tmp_path / "RESULTS.md")]


def _fake_corpus(d):
    d.mkdir()
    (d / "alpha").write_text("one\n%\ntwo\n  lines  \n%\n\n%\nthree _\bx\n")
    (d / "alpha.dat").write_bytes(b"")
    (d / "beta").write_text("b1\n%\nb2")
    (d / "beta.dat").write_bytes(b"")
    (d / "notes").write_text("no index beside it: not a topic\n")
    return d


def test_fortunes_reader_splits_topics_and_resolves_overstriking(tmp_path):
    d = _fake_corpus(tmp_path / "f")
    texts, topics = dlcore.datasets.fortunes(d)
    assert texts == ["one", "two\n  lines", "three x", "b1", "b2"]
    assert topics == ["alpha"] * 3 + ["beta"] * 2
    assert dlcore.datasets.fortunes(d, topics=["beta"]) == (["b1", "b2"], ["beta", "beta"])
    with pytest.raises(ValueError, match=r"fortunes: topics \['gamma'\]"):
        dlcore.datasets.fortunes(d, topics=["gamma"])


def test_fortunes_reader_names_the_package_and_never_falls_back(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"apt-get install fortunes.*"):
        dlcore.datasets.fortunes(empty)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"\$DLCORE_DATA"):
        dlcore.datasets.fortunes()
    _fake_corpus(tmp_path / "fortunes")
    assert len(dlcore.datasets.fortunes()[0]) == 5  # $DLCORE_DATA/fortunes


def test_char_lm_missing_corpus_exits_with_the_package_name(tmp_path, capsys):
    with pytest.raises(SystemExit):
        char_lm.main(["--data", str(tmp_path)] + _out(tmp_path))
    assert "apt-get install fortunes" in capsys.readouterr().err


@needs_corpus
def test_char_models_beat_the_unigram_baseline_and_write_results(tmp_path):
    args = ["--train-chars", "60000", "--val-chars", "8000", "--epochs", "2", "--hidden", "96",
            "--d-model", "48", "--layers", "1", "--seq-len", "48", "--sample-chars", "40",
            "--write-results"] + _out(tmp_path)
    r = char_lm.main(args)
    for kind in char_lm.MODELS:
        m = r[kind]
        assert m["losses"][-1] < m["losses"][0], kind
        assert m["val_loss"] < r["unigram"] - 0.1, kind  # context helps: below the no-context entropy
        assert m["perplexity"] == pytest.approx(np.exp(m["val_loss"]))
        assert len(m["sample"]) == 40
        if torch is not None:  # same weights: same start, same curve
            assert m["torch_initial_val_loss"] == pytest.approx(m["initial_val_loss"], abs=1e-4)
            assert m["torch_losses"] == pytest.approx(m["losses"], abs=2e-3)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- results:char_lm -->" in text and f"{r['lstm']['val_loss']:.3f}" in text
    assert "fortunes" in text


@needs_corpus
def test_char_lm_without_torch_skips_the_comparison(tmp_path):
    r = char_lm.main(["--model", "gru", "--no-torch", "--train-chars", "20000", "--val-chars", "4000",
                      "--epochs", "1", "--hidden", "32", "--sample-chars", "5"] + _out(tmp_path))
    assert "torch_val_loss" not in r["gru"] and not r["torch"] and "lstm" not in r


@needs_corpus
def test_topic_classifier_beats_the_majority_class(tmp_path):
    r = text_classifier.main(["--topics", "computers,definitions,songs-poems", "--per-topic", "200",
                              "--epochs", "4", "--embed", "32", "--hidden", "32", "--write-results"]
                             + _out(tmp_path))
    assert r["class_counts"] == {t: (160, 40) for t in ("computers", "definitions", "songs-poems")}
    assert r["majority"] == pytest.approx(1 / 3)
    assert r["losses"][-1] < r["losses"][0]
    assert r["accuracy"] > r["majority"] + 0.15
    assert r["confusion"].sum() == 120 and np.trace(r["confusion"]) == round(r["accuracy"] * 120)
    if torch is not None:
        assert r["torch_losses"] == pytest.approx(r["losses"], abs=2e-3)
    assert "<!-- results:text_classifier -->" in (tmp_path / "RESULTS.md").read_text()


@needs_corpus
def test_topic_split_is_fixed_and_disjoint():
    (a, ya), (b, yb) = text_classifier.topic_split(None, ("science", "work"), 100)
    (a2, _), (b2, _) = text_classifier.topic_split(None, ("science", "work"), 100)
    assert a == a2 and b == b2 and not set(a) & set(b)
    assert np.bincount(ya).tolist() == [80, 80] and np.bincount(yb).tolist() == [20, 20]


@pytest.mark.skipif(torch is None, reason="PyTorch (the reference) not installed")
@pytest.mark.parametrize("kind", char_lm.MODELS)
def test_char_models_are_pytorchs_models_on_the_same_weights(kind):
    """The one definition built from dlcore.nn and from torch.nn, weights copied: same logits and
    same gradients in float64 (the comparison in the example compares like with like)."""
    sizes = dict(embed=8, hidden=12, layers=2, d_model=16, heads=2, max_len=10)
    dlcore.manual_seed(3)
    model = char_lm.char_model(dlcore, kind, 11, **sizes).double()
    twin = char_lm.torch_copy(torch, model, kind, 11, **sizes).double()
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x, y = np.random.default_rng(0).integers(0, 11, (2, 3, 10))
    losses = [char_lm._loss(lib, m, x, y) for lib, m in ((dlcore, model), (torch, twin))]
    for loss in losses:
        loss.backward()
    assert losses[0].item() == pytest.approx(losses[1].item(), abs=1e-12)
    grads = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), atol=1e-10, err_msg=name)


@pytest.mark.skipif(torch is None, reason="PyTorch (the reference) not installed")
def test_classifier_is_pytorchs_model_on_the_same_weights():
    dlcore.manual_seed(4)
    model = text_classifier.classifier_model(dlcore, 20, 3, embed=6, hidden=5).double()
    twin = text_classifier.torch_copy(torch, model, 20, 3, embed=6, hidden=5).double()
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    seqs = [[2, 3, 4], [5, 6, 7, 8, 9, 10], [11], [12, 13, 1, 1]]
    ids, lengths = text_classifier.encode_batch(seqs)
    out = [m(lib.tensor(ids), lengths).detach().numpy() for lib, m in ((dlcore, model), (torch, twin))]
    np.testing.assert_allclose(out[0], out[1], atol=1e-12)
    # padding never reaches the result: a longer pad gives the same logits
    wide = np.pad(ids, ((0, 0), (0, 3)))
    np.testing.assert_allclose(model(dlcore.tensor(wide), lengths).detach().numpy(), out[0], atol=1e-12)
