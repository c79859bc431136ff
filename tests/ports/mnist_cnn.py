"""MNIST-style convolutional classifier (pytorch/examples mnist/main.py's layout):
two 3x3 convolutions, max-pooling, dropout, two dense layers, log-softmax + NLL,
Adadelta with a StepLR schedule, trained over a DataLoader of a Fashion-MNIST slice on the
accelerator when there is one; the trained weights saved and loaded back as a state_dict."""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(2 * dropout)
        self.fc1 = nn.Linear(16 * 12 * 12, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def train(model, device, loader, optimizer, epoch, losses):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def test(model, device, loader):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / len(loader.dataset), correct / len(loader.dataset)


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    dtype = torch.get_default_dtype()
    train_set = TensorDataset(torch.from_numpy(args.x_train).to(dtype), torch.from_numpy(args.y_train))
    test_set = TensorDataset(torch.from_numpy(args.x_test).to(dtype), torch.from_numpy(args.y_test))
    torch.manual_seed(args.seed)
    use_accel = torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=not args.double)
    test_loader = DataLoader(test_set, batch_size=100)

    model = Net(0.0 if args.double else 0.25).to(device)
    args.init(model)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for epoch in range(1, args.epochs + 1):
        train(model, device, train_loader, optimizer, epoch, losses)
        scheduler.step()
    args.test_loss, args.accuracy = test(model, device, test_loader)
    path = os.path.join(args.outf, "mnist_cnn.pt")
    torch.save(model.state_dict(), path)
    restored = Net(0.0).to(device)
    restored.load_state_dict(torch.load(path, weights_only=True))
    assert test(restored, device, test_loader) == (args.test_loss, args.accuracy)
    return losses[:args.steps]
