"""Time-sequence prediction (pytorch/examples time_sequence_prediction's layout): two stacked
LSTMCells and a linear read-out unrolled over sine waves by hand, optionally continuing past
the input on their own predictions, trained full-batch with L-BFGS and a closure, in double
precision. The waves are written with torch.save and read back with torch.load, as the
example's generate_sine_wave.py and train.py split the work."""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Sequence(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def sine_waves(rng, n, length, period):
    """n sine waves of `length` samples, each shifted by a random phase."""
    x = np.arange(length) + rng.integers(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / period).astype(np.float64)


def main(args):
    torch.save(torch.from_numpy(sine_waves(args.rng, 12, 40, 4.0)), f"{args.outf}/traindata.pt")
    data = torch.load(f"{args.outf}/traindata.pt")
    input = data[3:, :-1]
    target = data[3:, 1:]
    test_input = data[:3, :-1]
    test_target = data[:3, 1:]
    seq = Sequence(12).double()
    args.init(seq)
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    losses = []
    for i in range(args.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            loss.backward()
            return loss
        losses.append(optimizer.step(closure).item())
        with torch.no_grad():
            future = 10
            pred = seq(test_input, future=future)
            args.test_loss = criterion(pred[:, :-future], test_target).item()
            args.prediction = pred.detach().numpy()
    return losses
