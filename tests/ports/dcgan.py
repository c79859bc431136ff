"""DCGAN (pytorch/examples dcgan/main.py's layout), scaled to 16x16 images: a generator of
transposed convolutions with batch norm, a discriminator of strided convolutions with
LeakyReLU, `weights_init` applied by class name, BCELoss with real/fake labels and Adam
with beta1 = 0.5; one discriminator and one generator step per batch."""
import torch
import torch.backends.cudnn as cudnn
import torch.nn as nn
import torch.optim as optim


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    torch.manual_seed(args.seed)
    cudnn.benchmark = True
    nz, ngf, ndf, nc = 8, 8, 8, 1
    netG = Generator(nz, ngf, nc)
    netG.apply(weights_init)
    netD = Discriminator(ndf, nc)
    netD.apply(weights_init)
    args.init(netG, netD)
    criterion = nn.BCELoss()
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    images = torch.from_numpy(args.images).to(torch.get_default_dtype())
    lossesD, lossesG = [], []
    for i in range(args.steps):
        real = images[(i * args.batch_size) % len(images):][:args.batch_size]
        b_size = real.size(0)
        # (1) discriminator: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        label = torch.full((b_size,), real_label)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        noise = torch.from_numpy(args.randn(b_size, nz, 1, 1))
        fake = netG(noise)
        label.fill_(fake_label)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optimizerD.step()
        # (2) generator: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        errG = criterion(netD(fake), label)
        errG.backward()
        optimizerG.step()
        lossesD.append((errD_real + errD_fake).item())
        lossesG.append(errG.item())
    args.lossesG = lossesG
    torch.save(netG.state_dict(), f"{args.outf}/netG_epoch_0.pth")
    torch.save(netD.state_dict(), f"{args.outf}/netD_epoch_0.pth")
    netG.load_state_dict(torch.load(f"{args.outf}/netG_epoch_0.pth"))
    return lossesD
