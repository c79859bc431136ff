"""Sequence-to-sequence Transformer (the layout of PyTorch's translation tutorial and
pytorch/examples language_translation), on a task written here: copy a sequence of tokens in
reverse. Token embeddings scaled by sqrt(d_model) plus sinusoidal positions, nn.Transformer with
a causal target mask from generate_square_subsequent_mask and key padding masks, teacher
forcing with the target shifted by one, cross-entropy that ignores padding, Adam, and greedy
decoding token by token."""
import math

import torch
import torch.nn as nn
import torch.optim as optim

PAD, BOS, EOS = 0, 1, 2


class PositionalEncoding(nn.Module):
    def __init__(self, emb_size, dropout, maxlen=32):
        super().__init__()
        den = torch.exp(-torch.arange(0, emb_size, 2).to(torch.get_default_dtype()) * math.log(10000) / emb_size)
        pos = torch.arange(0, maxlen).to(torch.get_default_dtype()).reshape(maxlen, 1)
        pos_embedding = torch.zeros((maxlen, emb_size))
        pos_embedding[:, 0::2] = torch.sin(pos * den)
        pos_embedding[:, 1::2] = torch.cos(pos * den)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pos_embedding", pos_embedding.unsqueeze(0))

    def forward(self, token_embedding):
        return self.dropout(token_embedding + self.pos_embedding[:, :token_embedding.size(1), :])


class Seq2SeqTransformer(nn.Module):
    def __init__(self, vocab, emb_size, nhead, ffn, dropout):
        super().__init__()
        self.emb_size = emb_size
        self.src_tok_emb = nn.Embedding(vocab, emb_size)
        self.tgt_tok_emb = nn.Embedding(vocab, emb_size)
        self.positional_encoding = PositionalEncoding(emb_size, dropout)
        self.transformer = nn.Transformer(d_model=emb_size, nhead=nhead, num_encoder_layers=1,
                                          num_decoder_layers=1, dim_feedforward=ffn, dropout=dropout,
                                          batch_first=True)
        self.generator = nn.Linear(emb_size, vocab)

    def embed(self, emb, tokens):
        return self.positional_encoding(emb(tokens) * math.sqrt(self.emb_size))

    def forward(self, src, tgt, tgt_mask, src_padding_mask, tgt_padding_mask):
        outs = self.transformer(self.embed(self.src_tok_emb, src), self.embed(self.tgt_tok_emb, tgt),
                                tgt_mask=tgt_mask, src_key_padding_mask=src_padding_mask,
                                tgt_key_padding_mask=tgt_padding_mask,
                                memory_key_padding_mask=src_padding_mask)
        return self.generator(outs)

    def encode(self, src, src_padding_mask):
        return self.transformer.encoder(self.embed(self.src_tok_emb, src), src_key_padding_mask=src_padding_mask)

    def decode(self, tgt, memory, tgt_mask, memory_padding_mask):
        return self.transformer.decoder(self.embed(self.tgt_tok_emb, tgt), memory, tgt_mask=tgt_mask,
                                        memory_key_padding_mask=memory_padding_mask)


def create_mask(src, tgt):
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
    return tgt_mask, src == PAD, tgt == PAD


def greedy_decode(model, src, max_len):
    src_padding_mask = src == PAD
    memory = model.encode(src, src_padding_mask)
    ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
    for i in range(max_len - 1):
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(ys.size(1))
        out = model.decode(ys, memory, tgt_mask, src_padding_mask)
        next_word = model.generator(out[:, -1]).argmax(dim=1)
        ys = torch.cat([ys, next_word.unsqueeze(1)], dim=1)
    return ys


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    src_all, tgt_all = torch.from_numpy(args.src), torch.from_numpy(args.tgt)
    model = Seq2SeqTransformer(args.vocab, 32, 4, 64, 0.0 if args.double else 0.1)
    args.init(model)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    losses = []
    for step in range(args.steps):
        lo = (step * args.batch_size) % len(src_all)
        src, tgt = src_all[lo:lo + args.batch_size], tgt_all[lo:lo + args.batch_size]
        tgt_input, tgt_out = tgt[:, :-1], tgt[:, 1:]
        tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input)
        model.train()
        logits = model(src, tgt_input, tgt_mask, src_padding_mask, tgt_padding_mask)
        optimizer.zero_grad()
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        args.decoded = greedy_decode(model, src_all[:16], tgt_all.shape[1]).tolist()
    return losses
