"""Image rows as a sequence (pytorch/examples mnist_rnn's layout): each 28x28 image read row by
row by a batch-first LSTM, the last step's output through dropout and a linear layer into
log-probabilities, NLL loss, Adadelta with StepLR, and an accuracy pass under no_grad."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=32, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(32)
        self.dropout1 = nn.Dropout2d(dropout)
        self.fc1 = nn.Linear(32, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, input):
        input = input.reshape(-1, 28, 28)
        output, hidden = self.rnn(input)
        output = output[:, -1, :]
        output = self.batchnorm(output)
        output = self.dropout1(output)
        output = F.relu(self.fc1(output))
        output = self.fc2(output)
        return F.log_softmax(output, dim=1)


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    dtype = torch.get_default_dtype()
    train_set = TensorDataset(torch.from_numpy(args.x_train).to(dtype), torch.from_numpy(args.y_train))
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=not args.double)
    model = Net(0.0 if args.double else 0.1)
    args.init(model)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for epoch in range(args.epochs):
        model.train()
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    model.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(args.x_test).to(dtype), torch.from_numpy(args.y_test)
        args.accuracy = model(x).argmax(dim=1).eq(y).float().mean().item()
    return losses[:args.steps]
