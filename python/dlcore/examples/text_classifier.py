"""Topic classification of fortunes (Debian's `fortunes` package, see dlcore.datasets.fortunes):
an Embedding and a bidirectional LSTM read each quotation's words (a PackedSequence, so padding
is never read) and a linear layer names its topic file. Trained with dlcore and, when PyTorch is
installed, the same model trained by PyTorch from the same initial weights on the same batches.
Prints the test accuracy of both against the majority-class baseline, the class balance and
dlcore's and PyTorch's seconds per epoch.

    python -m dlcore.examples.text_classifier                 # about a minute on 2 cores
    python -m dlcore.examples.text_classifier --full          # all fortunes of the topics, more epochs
    python -m dlcore.examples.text_classifier --topics computers,science,love

Data: the fortunes of --topics (default computers, definitions, politics, science, songs-poems), at
most --per-topic of each (the first ones in the file: 600 keeps the classes balanced), a fixed
20% of every topic held out as the test set (independent of --seed). Words are lower-cased runs
of letters, digits and apostrophes, every other non-space character is a token of its own; the
vocabulary is the training words seen at least twice (id 1 for the rest, 0 pads); a fortune
keeps its first --max-len tokens.

Model (one definition, instantiated from dlcore.nn and from torch.nn):
  Embedding(V, 64, padding_idx=0) - pack_padded_sequence - bidirectional LSTM(64, 64)
  - [final forward state, final backward state] - Linear(128, topics); Adam, cross-entropy.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys

import numpy as np

import dlcore

from . import _common

__all__ = ["TOPICS", "tokenize", "topic_split", "WordVocab", "encode_batch", "classifier_model",
           "torch_copy", "train_epoch", "accuracy", "parse_args", "main"]

TOPICS = ("computers", "definitions", "politics", "science", "songs-poems")
_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def tokenize(text):
    """Lower-cased words (runs of letters, digits, apostrophes) and single punctuation tokens."""
    return _TOKEN.findall(text.lower())


def topic_split(path=None, topics=TOPICS, per_topic=600, test_fraction=0.2):
    """((train_texts, train_labels), (test_texts, test_labels)): the first per_topic fortunes of
    each topic (None: all), labels are indices into topics, a fixed test_fraction of each topic
    held out. Exits with a clear message when the corpus is missing."""
    texts, names = _common.load_fortunes(path, topics)
    rng = np.random.default_rng(7)  # fixed: the split never moves with --seed
    split = ([], []), ([], [])
    for label, topic in enumerate(topics):
        mine = [t for t, n in zip(texts, names) if n == topic][:per_topic]
        order = rng.permutation(len(mine))
        n_test = int(round(test_fraction * len(mine)))
        for k, i in enumerate(order):
            part = split[1] if k < n_test else split[0]
            part[0].append(mine[i])
            part[1].append(label)
    return tuple((texts_, np.array(labels, np.int64)) for texts_, labels in split)


class WordVocab:
    """Tokens seen at least min_count times get ids 2..; 1 is every other token, 0 pads."""

    def __init__(self, token_lists, min_count=2):
        counts = collections.Counter(t for toks in token_lists for t in toks)
        self.words = ["<pad>", "<unk>"] + sorted(w for w, n in counts.items() if n >= min_count)
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def encode(self, tokens, max_len):
        return [self.index.get(t, 1) for t in tokens[:max_len]] or [1]


def encode_batch(seqs):
    """(ids (N, T) int64 padded with 0, lengths list) for a list of id lists."""
    lengths = [len(s) for s in seqs]
    ids = np.zeros((len(seqs), max(lengths)), np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
    return ids, lengths


def classifier_model(lib, vocab_size, classes, embed=64, hidden=64):
    """The bidirectional-LSTM topic classifier built from lib.nn (lib: dlcore or torch), so both
    frameworks' models come from one definition. model(ids (N, T), lengths) -> logits (N, classes)."""
    nn = lib.nn

    class BiLSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden, classes)

        def forward(self, ids, lengths):
            packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True,
                                                       enforce_sorted=False)
            _, (h_n, _) = self.lstm(packed)  # h_n (2, N, hidden): each direction's final state
            return self.head(lib.cat([h_n[0], h_n[1]], 1))

    return BiLSTMClassifier()


def torch_copy(torch, model, vocab_size, classes, **sizes):
    """The PyTorch twin of the dlcore `model` with its weights copied in."""
    twin = classifier_model(torch, vocab_size, classes, **sizes)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return twin


def train_epoch(lib, model, opt, seqs, labels, batch_size, rng_seed):
    """One pass in an order drawn from rng_seed (the same for both frameworks); returns the mean
    training loss."""
    model.train()
    order = np.random.default_rng(rng_seed).permutation(len(seqs))
    total = 0.0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        ids, lengths = encode_batch([seqs[j] for j in idx])
        loss = lib.nn.functional.cross_entropy(model(lib.tensor(ids), lengths), lib.tensor(labels[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / len(seqs)


def accuracy(lib, model, seqs, labels, batch_size=256):
    """(accuracy, predicted labels) on (seqs, labels)."""
    model.eval()
    preds = []
    with lib.no_grad():
        for i in range(0, len(seqs), batch_size):
            ids, lengths = encode_batch(seqs[i:i + batch_size])
            preds.append(model(lib.tensor(ids), lengths).argmax(1).numpy())
    pred = np.concatenate(preds)
    return float((pred == labels).mean()), pred


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.text_classifier",
                                description="Embedding + bidirectional LSTM topic classifier on fortunes, "
                                            "against PyTorch.")
    p.add_argument("--topics", default=",".join(TOPICS), help="comma-separated fortune topic files")
    p.add_argument("--per-topic", type=int, default=None,
                   help="fortunes used per topic (default 600; --full: all)")
    p.add_argument("--epochs", type=int, default=None, help="default 6 (15 with --full)")
    p.add_argument("--max-len", type=int, default=100, help="tokens kept per fortune")
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    return _common.add_common_args(p, full_help="every fortune of the topics and 15 epochs instead of the "
                                                "few-minute default", data_help=_common.FORTUNES_HELP).parse_args(argv)


def main(argv=None):
    """Runs the example; returns {'accuracy', 'majority', 'class_counts', 'losses', 'epoch_seconds',
    'confusion', 'model', and with PyTorch 'torch_accuracy', 'torch_losses', 'torch_epoch_seconds'}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    log = (lambda *a: None) if args.quiet else print
    topics = tuple(t.strip() for t in args.topics.split(",") if t.strip())
    if len(topics) < 2:
        raise SystemExit("error: --topics needs at least two topics")
    epochs = args.epochs or (15 if args.full else 6)
    per_topic = args.per_topic or (None if args.full else 600)
    try:
        (tr_texts, ytr), (te_texts, yte) = topic_split(args.data, topics, per_topic)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    tr_tok = [tokenize(t) for t in tr_texts]
    vocab = WordVocab(tr_tok)
    tr = [vocab.encode(t, args.max_len) for t in tr_tok]
    te = [vocab.encode(tokenize(t), args.max_len) for t in te_texts]
    counts = np.bincount(ytr, minlength=len(topics)), np.bincount(yte, minlength=len(topics))
    majority = float(counts[1][counts[0].argmax()] / len(yte))  # predict the commonest training topic
    torch, torch_note = _common.optional_torch(args.no_torch)
    print(f"{len(topics)} topics, {len(tr)} training / {len(te)} test fortunes, vocabulary {len(vocab):,} words; "
          f"majority-class baseline {majority:.3f}" + torch_note)
    sizes = dict(embed=args.embed, hidden=args.hidden)
    dlcore.manual_seed(args.seed)
    model = classifier_model(dlcore, len(vocab), len(topics), **sizes)
    res = {"majority": majority, "class_counts": {t: (int(a), int(b)) for t, a, b in zip(topics, *counts)},
           "topics": topics, "vocab": len(vocab), "model": model, "torch": torch is not None,
           "parameters": sum(p.numel() for p in model.parameters())}
    runs = [("dlcore", dlcore, model)]
    if torch is not None:
        runs.append(("torch", torch, torch_copy(torch, model, len(vocab), len(topics), **sizes)))
    for name, lib, m in runs:
        opt = lib.optim.Adam(m.parameters(), lr=args.lr)
        losses, secs = [], []
        for epoch in range(epochs):
            t = _common.Timer()
            losses.append(train_epoch(lib, m, opt, tr, ytr, args.batch_size, args.seed * 1000 + epoch))
            secs.append(t())
            log(f"  {name} epoch {epoch + 1}/{epochs}: train loss {losses[-1]:.3f}, {secs[-1]:.1f} s")
        acc, pred = accuracy(lib, m, te, yte)
        pre = "" if name == "dlcore" else "torch_"
        res.update({pre + "accuracy": acc, pre + "losses": losses, pre + "epoch_seconds": sum(secs) / len(secs)})
        if name == "dlcore":
            res["confusion"] = np.bincount(yte * len(topics) + pred, minlength=len(topics) ** 2).reshape(
                len(topics), len(topics))
    res["seconds"] = timer()
    print(f"test accuracy {res['accuracy']:.3f} (majority class {majority:.3f}), {res['epoch_seconds']:.1f} s/epoch"
          + (f"; PyTorch from the same weights: {res['torch_accuracy']:.3f}, {res['torch_epoch_seconds']:.1f} s/epoch"
             if torch is not None else ""))
    if args.write_results:
        rows = ["Corpus: Debian's `fortunes` package (/usr/share/games/fortunes); topics "
                + ", ".join(f"{t} ({a} train / {b} test)" for t, (a, b) in res["class_counts"].items())
                + f"; a fixed 20% of each topic is the test set. Vocabulary {len(vocab):,} words, at most "
                  f"{args.max_len} tokens per fortune, Embedding({args.embed}) - bidirectional LSTM({args.hidden}) "
                  f"on a PackedSequence - Linear, {res['parameters']:,} parameters; Adam lr {args.lr}, batch "
                  f"{args.batch_size}, {epochs} epochs, seed {args.seed}. PyTorch "
                + (f"({torch.__version__}) trains the same model from the same initial weights on the same "
                   f"batches with as many threads as dlcore." if torch is not None else
                   "was skipped on this run (--no-torch)." if args.no_torch else "was not installed on this run."),
                "", "| classifier | test accuracy | s/epoch |", "|---|---|---|",
                f"| majority class (always {topics[int(counts[0].argmax())]}) | {majority:.3f} | - |",
                f"| dlcore | {res['accuracy']:.3f} | {res['epoch_seconds']:.1f} |"]
        if torch is not None:
            rows.append(f"| PyTorch (same weights, same batches) | {res['torch_accuracy']:.3f} | "
                        f"{res['torch_epoch_seconds']:.1f} |")
        rows += ["", "Confusion matrix of the dlcore model (rows: true topic, columns: predicted):", "",
                 "| | " + " | ".join(topics) + " |", "|---" * (len(topics) + 1) + "|"]
        rows += [f"| {t} | " + " | ".join(str(int(v)) for v in row) + " |" for t, row in zip(topics, res["confusion"])]
        _common.write_results(args, "text_classifier", "Topic classification of fortunes (bidirectional LSTM)",
                              argv, rows, seconds=res["seconds"])
        print(f"wrote {args.results_file}")
    return res


if __name__ == "__main__":
    main()
