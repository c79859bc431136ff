"""Word-level LSTM language model (pytorch/examples word_language_model's layout):
embedding -> LSTM -> dropout -> decoder with tied weights, a corpus batchified into
columns, truncated BPTT with detached hidden states, gradient-norm clipping and a plain
SGD update written by hand on `p.data`; after each epoch an evaluation on held-out text,
the best model's state_dict saved to a file object, the learning rate divided by 4 when
validation stops improving, the best model loaded back at the end, and words generated from
it by sampling with a temperature (the example's generate.py)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout, tie_weights=True):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.nhid, self.nlayers = nhid, nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.decoder.out_features)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def evaluate(model, data_source, bptt, eval_batch_size, criterion):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i, bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def generate(model, ntokens, nwords, temperature):
    model.eval()
    hidden = model.init_hidden(1)
    input = torch.randint(ntokens, (1, 1), dtype=torch.long)
    words = []
    with torch.no_grad():
        for i in range(nwords):
            output, hidden = model(input, hidden)
            word_weights = output.squeeze().div(temperature).exp().cpu()
            word_idx = torch.multinomial(word_weights, 1)[0]
            input.fill_(word_idx)
            words.append(word_idx.item())
    return words


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    corpus = torch.from_numpy(args.corpus)
    n_val = len(corpus) // 10
    train_data = batchify(corpus[:-n_val], args.batch_size)
    val_data = batchify(corpus[-n_val:], 4)
    model = RNNModel(args.ntokens, 16, 16, 2, 0.0 if args.double else 0.2)
    args.init(model)
    criterion = nn.NLLLoss()
    lr, losses, best_val_loss = args.lr, [], None
    save = f"{args.outf}/model.pt"
    for epoch in range(args.epochs):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        val_loss = evaluate(model, val_data, args.bptt, 4, criterion)
        if best_val_loss is None or val_loss < best_val_loss:
            with open(save, "wb") as f:
                torch.save(model.state_dict(), f)
            best_val_loss = val_loss
        else:
            lr /= 4.0
    with open(save, "rb") as f:
        model.load_state_dict(torch.load(f))
    args.val_ppl = math.exp(evaluate(model, val_data, args.bptt, 4, criterion))
    assert args.val_ppl == math.exp(best_val_loss)
    args.generated = generate(model, args.ntokens, 50, 1.0)
    return losses[:args.steps]
