"""Character-level language model: text turned into character indices with a vocabulary built
from the text itself, an Embedding and a 2-layer GRU with a linear read-out over the
characters, trained on random fixed-length windows with cross-entropy over every position,
the hidden state carried between consecutive windows (detached), Adam, and sampling of new
text from the softmax of the last output."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class CharRNN(nn.Module):
    def __init__(self, n_chars, hidden, n_layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(n_chars, hidden)
        self.gru = nn.GRU(hidden, hidden, n_layers, batch_first=True, dropout=dropout)
        self.out = nn.Linear(hidden, n_chars)

    def forward(self, x, h=None):
        y, h = self.gru(self.embed(x), h)
        return self.out(y), h


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    text = args.text
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    model = CharRNN(len(chars), 24, 2, 0.0 if args.double else 0.1)
    args.init(model)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    seq_len, batch = args.seq_len, args.batch_size
    n_windows = (len(data) - 1) // seq_len
    losses, h = [], None
    for step in range(args.steps):
        starts = [((step * batch + b) % n_windows) * seq_len for b in range(batch)]
        x = torch.stack([data[s:s + seq_len] for s in starts])
        y = torch.stack([data[s + 1:s + 1 + seq_len] for s in starts])
        model.train()
        logits, h = model(x, None if h is None or h.shape[1] != batch else h.detach())
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        x, hs, out = data[:1].view(1, 1), None, []
        for _ in range(40):
            logits, hs = model(x, hs)
            probs = F.softmax(logits[0, -1] / 0.8, dim=-1)
            x = torch.multinomial(probs, 1).view(1, 1)
            out.append(chars[x.item()])
    args.sample_text = "".join(out)
    return losses
