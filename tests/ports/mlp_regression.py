"""MLP regression over a DataLoader with worker processes (num_workers=2): a Dataset
subclass, a Sequential MLP, MSE loss, SGD with momentum and a cosine schedule, and an
evaluation pass under no_grad."""
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset


class Regression(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    dtype = torch.get_default_dtype()
    x = torch.from_numpy(args.x).to(dtype)
    y = torch.from_numpy(args.y).to(dtype)
    loader = DataLoader(Regression(x, y), batch_size=args.batch_size, shuffle=not args.double,
                        num_workers=2)
    model = nn.Sequential(nn.Linear(x.shape[1], 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    args.init(model)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    losses = []
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    model.eval()
    with torch.no_grad():
        args.final_mse = criterion(model(x), y).item()
    return losses[:args.steps]
