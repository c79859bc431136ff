"""Dense autoencoder: an encoder and a decoder as nn.Sequential stacks, a bottleneck of 16,
mean-squared reconstruction error, Adam with weight decay, over a shuffled DataLoader."""
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 16), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 784), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    images = torch.from_numpy(args.images).to(torch.get_default_dtype()).reshape(-1, 28 * 28)
    loader = DataLoader(TensorDataset(images), batch_size=args.batch_size, shuffle=not args.double)
    model = AutoEncoder()
    args.init(model)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-5)
    losses = []
    for epoch in range(args.epochs):
        for (img,) in loader:
            output = model(img)
            loss = criterion(output, img)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses[:args.steps]
