"""Polynomial regression (pytorch/examples regression/main.py's layout): features x, x^2,
x^3, x^4 built with torch.cat, a single Linear layer fitted to a hidden polynomial by
smooth-L1 loss and a gradient step written by hand (`param.add_(-lr * param.grad)` under
no_grad, gradients cleared with `.grad.data.zero_()`), on fresh random batches of x
uniform in [-1.5, 1.5]."""
import torch
import torch.nn.functional as F

POLY_DEGREE = 4


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def main(args):
    if args.double:
        torch.set_default_dtype(torch.float64)
    W_target = torch.from_numpy(args.w_target).to(torch.get_default_dtype()).unsqueeze(1)
    b_target = torch.from_numpy(args.b_target).to(torch.get_default_dtype())

    def f(x):
        return x.mm(W_target) + b_target.item()

    def get_batch(batch_size=32):
        random = torch.from_numpy(args.rng.uniform(-1.5, 1.5, batch_size)).to(torch.get_default_dtype())
        x = make_features(random)
        return x, f(x)

    fc = torch.nn.Linear(W_target.size(0), 1)
    args.init(fc)
    args.initial = (fc.weight.view(-1).tolist(), fc.bias.item())
    losses = []
    for batch_idx in range(args.steps):
        batch_x, batch_y = get_batch()
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        with torch.no_grad():
            for param in fc.parameters():
                param.add_(-0.1 * param.grad)
        for param in fc.parameters():
            param.grad.data.zero_()
        losses.append(loss)
    args.learned = (fc.weight.view(-1).tolist(), fc.bias.item())
    return losses
