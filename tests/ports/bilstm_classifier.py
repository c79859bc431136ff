"""Bidirectional-LSTM text classifier: padded token batches with their lengths, an Embedding
with padding_idx, pack_padded_sequence (unsorted) into a 2-layer bidirectional LSTM, the last
layer's final forward and backward hidden states concatenated into a linear head,
cross-entropy and Adam with gradient clipping."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class BiLSTMClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_dim, num_classes, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers=2, bidirectional=True,
                            batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden_dim, num_classes)

    def forward(self, text, lengths):
        embedded = self.dropout(self.embedding(text))
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        packed_output, (hidden, cell) = self.lstm(packed)
        output, output_lengths = pad_packed_sequence(packed_output, batch_first=True)
        hidden = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        return self.fc(self.dropout(hidden)), output


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    text = torch.from_numpy(args.tokens)
    lengths = torch.from_numpy(args.lengths)
    labels = torch.from_numpy(args.labels)
    model = BiLSTMClassifier(args.vocab, 8, 12, 2, 0.0 if args.double else 0.2)
    args.init(model)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(args.steps):
        lo = (step * args.batch_size) % len(text)
        batch, blen, by = (text[lo:lo + args.batch_size], lengths[lo:lo + args.batch_size],
                           labels[lo:lo + args.batch_size])
        model.train()
        optimizer.zero_grad()
        logits, output = model(batch, blen)
        loss = F.cross_entropy(logits, by)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits, output = model(text, lengths)
        args.accuracy = (logits.argmax(1) == labels).float().mean().item()
        args.output_shape = tuple(output.shape)
    return losses
