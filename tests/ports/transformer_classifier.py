"""Transformer-encoder sequence classifier: token embedding scaled by sqrt(d_model) plus the
sinusoidal positional encoding held in a buffer (as in pytorch/examples word_language_model's
PositionalEncoding), nn.TransformerEncoder over batch-first input with a key padding mask,
masked mean pooling, a linear head, cross-entropy and AdamW with a warm-up LambdaLR."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1).to(torch.get_default_dtype())
        div_term = torch.exp(torch.arange(0, d_model, 2).to(torch.get_default_dtype())
                             * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        return self.dropout(x + self.pe[:, :x.size(1)])


class TransformerClassifier(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, nclass, dropout):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(ntoken, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers)
        self.head = nn.Linear(d_model, nclass)

    def forward(self, src, padding_mask):
        x = self.pos_encoder(self.embedding(src) * math.sqrt(self.d_model))
        x = self.transformer_encoder(x, src_key_padding_mask=padding_mask)
        keep = (~padding_mask).unsqueeze(-1).to(x.dtype)
        pooled = (x * keep).sum(1) / keep.sum(1)
        return self.head(pooled)


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    tokens = torch.from_numpy(args.tokens)
    padding_mask = tokens == 0
    labels = torch.from_numpy(args.labels)
    model = TransformerClassifier(args.vocab, 16, 2, 32, 2, 2, 0.0 if args.double else 0.1)
    args.init(model)
    optimizer = optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 5))
    losses = []
    for step in range(args.steps):
        lo = (step * args.batch_size) % len(tokens)
        src, mask, y = (tokens[lo:lo + args.batch_size], padding_mask[lo:lo + args.batch_size],
                        labels[lo:lo + args.batch_size])
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(src, mask), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses
