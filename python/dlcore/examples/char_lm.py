"""Character-level language models on the fortunes corpus (Debian's `fortunes` package, see
dlcore.datasets.fortunes): an LSTM, a GRU and a small causal Transformer, each trained with
dlcore and, when PyTorch is installed, the same model trained by PyTorch from the same initial
weights on the same batches. Prints the validation loss (nats per character) and perplexity of
each, dlcore's and PyTorch's seconds per epoch, and text sampled from each dlcore model.

    python -m dlcore.examples.char_lm                     # LSTM, GRU and Transformer: a few minutes on 2 cores
    python -m dlcore.examples.char_lm --model lstm        # one model
    python -m dlcore.examples.char_lm --full              # the whole corpus, more epochs
    python -m dlcore.examples.char_lm --no-torch          # dlcore only

Data: the fortunes of every topic, in a fixed shuffled order (independent of --seed); every
tenth fortune is validation text, the rest training text; each fortune ends with the corpus's own
separator line "%". The text is cut into non-overlapping windows of --seq-len characters (the
target is the next character); each window starts from a zero state. The vocabulary is the
characters seen at least 20 times in the training text, plus one id for the rest.

Models (one definition, instantiated from dlcore.nn and from torch.nn):
  lstm / gru:   Embedding(V, 64) - LSTM / GRU(64, hidden, layers) - Linear(hidden, V)
  transformer:  Embedding(V, d) + learned positions - TransformerEncoder(pre-norm layers, causal
                mask, `heads` heads, feed-forward 4d) - LayerNorm - Linear(d, V)
Adam, gradient norm clipped at 1, no dropout (so both frameworks compute the same function).
"""
from __future__ import annotations

import argparse
import collections
import math
import sys

import numpy as np

import dlcore

from . import _common

__all__ = ["SEPARATOR", "char_corpus", "CharVocab", "windows", "unigram_cross_entropy", "char_model",
           "torch_copy", "train_epoch", "evaluate", "sample", "parse_args", "main"]

SEPARATOR = "\n%\n"  # how the fortune files themselves separate quotations
MODELS = ("lstm", "gru", "transformer")


def char_corpus(path=None, val_every=10):
    """(train_text, val_text): the fortunes in a fixed shuffled order, every `val_every`-th one to
    validation, each followed by SEPARATOR. Exits with a clear message when the corpus is missing."""
    texts, _ = _common.load_fortunes(path)
    order = np.random.default_rng(20240607).permutation(len(texts))  # fixed: the split never moves
    train = "".join(texts[i] + SEPARATOR for k, i in enumerate(order) if k % val_every)
    val = "".join(texts[i] + SEPARATOR for k, i in enumerate(order) if k % val_every == 0)
    return train, val


class CharVocab:
    """Characters seen at least min_count times in the text get ids 1.., id 0 is every other one."""

    def __init__(self, text, min_count=20):
        counts = collections.Counter(text)
        self.chars = ["\ufffd"] + sorted(c for c, n in counts.items() if n >= min_count)
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """The ids of text as an int64 array."""
        return np.fromiter((self.index.get(c, 0) for c in text), np.int64, len(text))

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)


def windows(ids, seq_len):
    """(inputs, targets), each (n, seq_len): non-overlapping windows of ids and the ids one step on."""
    n = (len(ids) - 1) // seq_len
    return ids[:n * seq_len].reshape(n, seq_len), ids[1:n * seq_len + 1].reshape(n, seq_len)


def unigram_cross_entropy(train_ids, val_ids, vocab_size):
    """The baseline: nats per character of the validation ids under the training ids' character
    frequencies (add-one smoothed), i.e. a model that ignores context."""
    p = np.bincount(train_ids, minlength=vocab_size) + 1.0
    p /= p.sum()
    return float(-np.log(p[val_ids]).mean())


def char_model(lib, kind, vocab_size, embed=64, hidden=256, layers=1, d_model=128, heads=4,
               max_len=256):
    """The character model `kind` ('lstm', 'gru' or 'transformer') built from lib.nn, where lib is
    dlcore or torch: the same code makes both frameworks' models, so their state_dicts match.
    model(x (N, T) ids, state=None) -> (logits (N, T, V), state); the Transformer's state is None."""
    nn = lib.nn

    class RecurrentLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed)
            self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(embed, hidden, layers, batch_first=True)
            self.head = nn.Linear(hidden, vocab_size)

        def forward(self, x, state=None):
            out, state = self.rnn(self.embed(x), state)
            return self.head(out), state

    class TransformerLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.max_len = max_len
            self.embed = nn.Embedding(vocab_size, d_model)
            self.pos = nn.Embedding(max_len, d_model)
            block = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab_size)

        def forward(self, x, state=None):
            T = x.shape[1]
            h = self.embed(x) + self.pos(lib.arange(T).reshape(1, T))
            mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=h.dtype)
            return self.head(self.norm(self.blocks(h, mask=mask, is_causal=True))), None

    if kind not in MODELS:
        raise ValueError(f"char_model: kind must be one of {MODELS}, got {kind!r}")
    return TransformerLM() if kind == "transformer" else RecurrentLM()


def torch_copy(torch, model, kind, vocab_size, **sizes):
    """The PyTorch twin of the dlcore `model`: char_model(torch, ...) with model's weights copied in."""
    twin = char_model(torch, kind, vocab_size, **sizes)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return twin


def _loss(lib, model, xb, yb, reduction="mean"):
    logits, _ = model(lib.tensor(xb))
    return lib.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), lib.tensor(yb.reshape(-1)),
                                           reduction=reduction)


def train_epoch(lib, model, opt, x, y, batch_size, rng_seed, clip=1.0):
    """One pass over the windows (x, y) in an order drawn from rng_seed (the same for both
    frameworks); returns the mean training loss (nats per character)."""
    model.train()
    order = np.random.default_rng(rng_seed).permutation(len(x))
    total, n = 0.0, 0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        loss = _loss(lib, model, x[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        total += loss.item() * len(idx)
        n += len(idx)
    return total / n


def evaluate(lib, model, x, y, batch_size=64):
    """Mean cross-entropy (nats per character) over the windows (x, y)."""
    model.eval()
    total = 0.0
    with lib.no_grad():
        for i in range(0, len(x), batch_size):
            total += _loss(lib, model, x[i:i + batch_size], y[i:i + batch_size], "sum").item()
    return total / y.size


def sample(model, vocab, n=400, prompt=SEPARATOR, temperature=0.8, seed=0, context=None):
    """n characters drawn from the dlcore model after `prompt` (the Transformer sees the last
    `context` characters, the recurrent models carry their state)."""
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(prompt))
    out, state = [], None
    model.eval()
    with dlcore.no_grad():
        feed = ids
        for _ in range(n):
            if context:  # the Transformer: recompute over the window
                logits, _ = model(dlcore.tensor([ids[-context:]]))
            else:
                logits, state = model(dlcore.tensor([feed]), state)
            z = logits[0, -1].numpy().astype(np.float64) / temperature
            p = np.exp(z - z.max())
            p[0] = 0.0  # never the unknown-character id
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            ids.append(nxt)
            out.append(nxt)
            feed = [nxt]
    return vocab.decode(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m dlcore.examples.char_lm",
                                description="Character-level LSTM, GRU and Transformer language models on "
                                            "the fortunes corpus, against PyTorch.")
    p.add_argument("--model", default="all", choices=MODELS + ("all",))
    p.add_argument("--epochs", type=int, default=None, help="default 3 (10 with --full)")
    p.add_argument("--train-chars", type=int, default=None,
                   help="training characters used (default 300,000; --full: all, about 2.3 million)")
    p.add_argument("--val-chars", type=int, default=None,
                   help="validation characters used (default 60,000; --full: all, about 250,000)")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256, help="LSTM / GRU hidden size")
    p.add_argument("--layers", type=int, default=None, help="recurrent layers / Transformer blocks "
                                                            "(default 1 / 2)")
    p.add_argument("--d-model", type=int, default=128, help="Transformer width")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 2e-3; "
                                                          "Transformer 3e-3)")
    p.add_argument("--sample-chars", type=int, default=300)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    return _common.add_common_args(p, full_help="the whole corpus and 10 epochs instead of the few-minute default",
                                   data_help=_common.FORTUNES_HELP).parse_args(argv)


def _fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def main(argv=None):
    """Runs the example; returns {'unigram', 'vocab', 'train_chars', 'val_chars', model name:
    {'val_loss', 'perplexity', 'losses', 'epoch_seconds', 'sample', 'model', and with PyTorch
    'torch_val_loss', 'torch_epoch_seconds', 'initial_val_loss', 'torch_initial_val_loss'}}."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _common.setup(parse_args(argv))
    timer = _common.Timer()
    log = (lambda *a: None) if args.quiet else print
    epochs = args.epochs or (10 if args.full else 3)
    train_text, val_text = char_corpus(args.data)
    ntr = args.train_chars or (None if args.full else 300_000)
    nva = args.val_chars or (None if args.full else 60_000)
    train_text, val_text = train_text[:ntr], val_text[:nva]
    vocab = CharVocab(train_text)
    tr_ids, va_ids = vocab.encode(train_text), vocab.encode(val_text)
    xtr, ytr = windows(tr_ids, args.seq_len)
    xva, yva = windows(va_ids, args.seq_len)
    unigram = unigram_cross_entropy(tr_ids, va_ids, len(vocab))
    torch, torch_note = _common.optional_torch(args.no_torch)
    print(f"fortunes: {len(train_text):,} training / {len(val_text):,} validation characters, vocabulary "
          f"{len(vocab)}, windows of {args.seq_len}; unigram baseline {unigram:.3f} nats/char" + torch_note)
    res = {"unigram": unigram, "vocab": len(vocab), "train_chars": len(train_text), "val_chars": len(val_text),
           "torch": torch is not None}
    kinds = MODELS if args.model == "all" else (args.model,)
    for kind in kinds:
        sizes = dict(hidden=args.hidden, layers=args.layers or (2 if kind == "transformer" else 1),
                     d_model=args.d_model, heads=args.heads, max_len=args.seq_len)
        lr = args.lr or (3e-3 if kind == "transformer" else 2e-3)
        dlcore.manual_seed(args.seed)
        model = char_model(dlcore, kind, len(vocab), **sizes)
        r = {"model": model, "lr": lr, "layers": sizes["layers"],
             "parameters": sum(p.numel() for p in model.parameters())}
        twin = torch_copy(torch, model, kind, len(vocab), **sizes) if torch is not None else None
        r["initial_val_loss"] = evaluate(dlcore, model, xva, yva)
        runs = [("dlcore", dlcore, model)] + ([("torch", torch, twin)] if twin is not None else [])
        if twin is not None:
            r["torch_initial_val_loss"] = evaluate(torch, twin, xva, yva)
        log(f"{kind}: {r['parameters']:,} parameters, Adam lr {lr}")
        for name, lib, m in runs:
            opt = lib.optim.Adam(m.parameters(), lr=lr)
            losses, secs = [], []
            for epoch in range(epochs):
                t = _common.Timer()
                losses.append(train_epoch(lib, m, opt, xtr, ytr, args.batch_size, args.seed * 1000 + epoch))
                secs.append(t())
                log(f"  {name} epoch {epoch + 1}/{epochs}: train {losses[-1]:.3f} nats/char, {secs[-1]:.1f} s")
            val = evaluate(lib, m, xva, yva)
            pre = "" if name == "dlcore" else "torch_"
            r.update({pre + "losses": losses, pre + "epoch_seconds": sum(secs) / len(secs), pre + "val_loss": val})
        r["perplexity"] = math.exp(r["val_loss"])
        r["sample"] = sample(model, vocab, args.sample_chars, seed=args.seed,
                             context=args.seq_len if kind == "transformer" else None)
        line = f"{kind}: validation {r['val_loss']:.3f} nats/char (perplexity {r['perplexity']:.2f}), " \
               f"{r['epoch_seconds']:.1f} s/epoch"
        if twin is not None:
            line += (f"; PyTorch from the same weights: {r['torch_val_loss']:.3f} nats/char, "
                     f"{r['torch_epoch_seconds']:.1f} s/epoch")
        print(line)
        log("  sample: " + r["sample"].replace("\n", "\n          "))
        res[kind] = r
    res["seconds"] = timer()
    if args.write_results:
        rows = [f"Corpus: Debian's `fortunes` package (/usr/share/games/fortunes, {len(vocab)}-character "
                f"vocabulary), fixed split: every tenth fortune is validation text; {len(train_text):,} training "
                f"and {len(val_text):,} validation characters used, windows of {args.seq_len}, batch "
                f"{args.batch_size}, {epochs} epochs, Adam with gradient norm clipped at 1, seed {args.seed}. "
                f"PyTorch {'(' + torch.__version__ + ') ' if torch is not None else ''}trains the same model "
                f"from the same initial weights on the same batches"
                + (" with as many threads as dlcore." if torch is not None else
                   ": skipped on this run (--no-torch)." if args.no_torch else ": not installed on this run."),
                "", "| model | parameters | validation nats/char (dlcore) | perplexity | PyTorch nats/char | "
                    "dlcore s/epoch | PyTorch s/epoch |", "|---|---|---|---|---|---|---|",
                f"| unigram baseline (no context) | - | {unigram:.3f} | {math.exp(unigram):.2f} | - | - | - |"]
        for kind in kinds:
            r = res[kind]
            desc = (f"{kind.upper()} ({args.hidden} hidden, {r['layers']} layer{'s' * (r['layers'] > 1)}, "
                    f"lr {r['lr']:g})" if kind != "transformer" else
                    f"causal Transformer ({r['layers']} blocks, d={args.d_model}, {args.heads} heads, lr {r['lr']:g})")
            rows.append(f"| {desc} | {r['parameters']:,} | {r['val_loss']:.3f} | {r['perplexity']:.2f} | "
                        f"{_fmt(r.get('torch_val_loss'))} | {r['epoch_seconds']:.1f} | "
                        f"{_fmt(r.get('torch_epoch_seconds'), 1)} |")
        for kind in kinds:
            rows += ["", f"Sampled from the dlcore {kind} (temperature 0.8, after a separator line):", "",
                     "```", res[kind]["sample"].rstrip(), "```"]
        _common.write_results(args, "char_lm", "Character-level language models (fortunes)", argv, rows,
                              seconds=res["seconds"])
        print(f"wrote {args.results_file}")
    return res


if __name__ == "__main__":
    main()
