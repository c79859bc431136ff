"""Variational autoencoder (pytorch/examples vae/main.py's layout), narrowed: an encoder to
mean and log-variance, the reparameterization trick, a sigmoid decoder, and the loss as
summed binary cross-entropy plus the KL divergence, trained with Adam."""
import torch
import torch.nn.functional as F
from torch import nn, optim


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc21 = nn.Linear(64, 8)
        self.fc22 = nn.Linear(64, 8)
        self.fc3 = nn.Linear(8, 64)
        self.fc4 = nn.Linear(64, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    model = VAE()
    args.init(model)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    data_all = torch.from_numpy(args.images).to(torch.get_default_dtype())
    losses = []
    model.train()
    for i in range(args.steps):
        data = data_all[(i * args.batch_size) % len(data_all):][:args.batch_size]
        optimizer.zero_grad()
        eps = torch.from_numpy(args.randn(data.shape[0], 8))
        recon_batch, mu, logvar = model(data, eps)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(data))
    model.eval()
    with torch.no_grad():
        sample = model.decode(torch.from_numpy(args.randn(4, 8))).view(4, 1, 28, 28)
    args.sample_shape = tuple(sample.shape)
    return losses
