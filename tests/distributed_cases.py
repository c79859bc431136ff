"""The training runs that tests/test_distributed.py compares: each as N data-parallel MPI ranks
(run by ``mpirun -np N python tests/distributed_cases.py OUTDIR CASE...``, one .npz per rank) and as
one process (imported by the test). Models, data and steps are defined once, here."""
import os
import sys

import numpy as np

import dlcore
import dlcore.distributed as dist
from dlcore import nn, optim

B = 8          # per-process batch
STEPS = 4      # optimizer steps compared
SEED = 3       # data order


def mlp():
    dlcore.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 16),
                         nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 10))


def cnn(sync=False):
    dlcore.manual_seed(0)
    bn = dist.SyncBatchNorm if sync else nn.BatchNorm2d
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), bn(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), bn(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


MODELS = {"mlp": mlp, "cnn": cnn, "cnn_sync": lambda: cnn(sync=True)}


def data(n=STEPS * 2 * B):
    r = np.random.default_rng(0)
    return r.standard_normal((n, 1, 8, 8)).astype(np.float32), r.integers(0, 10, n)


def make_opt(kind, params):
    return optim.Adam(params, lr=1e-2) if kind == "adam" else optim.SGD(params, lr=0.1, momentum=0.9)


def state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def single_batch(model_name, opt_kind, world):
    """One process, batch world*B: the run data parallelism must reproduce."""
    model = MODELS[model_name]()  # SyncBatchNorm in one process is BatchNorm
    opt = make_opt(opt_kind, model.parameters())
    x, y = data()
    loader = dlcore.data.DataLoader((x, y), batch_size=world * B, shuffle=True, seed=SEED)
    lossf = nn.CrossEntropyLoss()
    losses = []
    for xb, yb in loader:
        opt.zero_grad()
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(state(model), _losses=np.array(losses))


def single_accumulated(model_name, opt_kind, world):
    """One process, each step's global batch as `world` micro-batches of B whose losses are
    scaled by 1/world and gradients accumulated (rank order), with dropout drawn as each part's
    share of the step's draws: the same arithmetic as data parallelism with per-process BatchNorm."""
    model = MODELS[model_name]()
    opt = make_opt(opt_kind, model.parameters())
    x, y = data()
    loader = dlcore.data.DataLoader((x, y), batch_size=world * B, shuffle=True, seed=SEED)
    lossf = nn.CrossEntropyLoss()
    g = dlcore.default_generator
    for xb, yb in loader:
        opt.zero_grad()
        start = g.get_state()
        for r in range(world):
            g.set_state(start)  # every part draws from where the step began, like every rank
            with g.sharded(r, world):
                out = model(xb[r * B:(r + 1) * B])
            (lossf(out, yb[r * B:(r + 1) * B]) * (1.0 / world)).backward()
        opt.step()
    return state(model)


def ddp(model_name, opt_kind):
    """This rank's part of the data-parallel run (PyTorch-style loop)."""
    w = dist.init()
    net = MODELS[model_name]()
    model = dist.DistributedDataParallel(net, first_bucket_mb=0.0005, bucket_cap_mb=0.0005)  # several buckets
    opt = make_opt(opt_kind, net.parameters())
    x, y = data()
    ds = dlcore.data.TensorDataset(x, y)
    loader = dlcore.data.DataLoader(ds, batch_size=B, sampler=dlcore.data.DistributedSampler(ds, seed=SEED, batch_size=B))
    lossf = nn.CrossEntropyLoss()
    losses = []
    for xb, yb in loader:
        opt.zero_grad()
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(dist.weighted_mean(loss, len(yb))[0])  # the global batch's loss, for logs
    assert len(model.reducer.buckets) > 1 and model.reducer.stats["steps"] == STEPS * 2 // w.size
    return dict(state(net), _losses=np.array(losses))


def keras(distributed, epochs=2, checkpoint=None, resume=None, die_at_epoch=None):
    """Keras-style fit of the dropout MLP, global batch 2*B, with validation and metrics."""
    x, y = data()
    if resume:
        model = dlcore.load_model(resume)
    else:
        model = dlcore.Sequential([mlp()])
        model.compile(optimizer=optim.Adam(model.parameters(), lr=1e-2), loss=nn.CrossEntropyLoss(),
                      metrics=["accuracy"])
    cbs = []
    if checkpoint:
        cbs.append(dlcore.callbacks.ModelCheckpoint(checkpoint, save_best_only=False))
    if die_at_epoch is not None:
        def die(epoch, logs):
            if epoch == die_at_epoch and dist.rank() == 1:
                os.kill(os.getpid(), 9)
        cbs.append(dlcore.callbacks.LambdaCallback(on_epoch_begin=die))
    hist = model.fit(x[:48], y[:48], batch_size=2 * B, epochs=epochs, verbose=0, callbacks=cbs,
                     validation_data=(x[48:], y[48:]), distributed=distributed,
                     initial_epoch=model.completed_epochs)
    out = {f"w{i}": a for i, a in enumerate(model.get_weights())}
    out.update({"h_" + k: np.array(v) for k, v in hist.history.items()})
    return out


def main(case, outdir):
    r = dist.init().rank
    if case == "keras":
        out = keras(True)
    elif case.startswith("keras_resume"):  # keras_resume_{full,crash,restart}
        ck = os.path.join(outdir, "ckpt.safetensors")
        phase = case.rsplit("_", 1)[1]
        out = keras(True, epochs=3, checkpoint=ck if phase != "full" else None,
                    resume=ck if phase == "restart" else None, die_at_epoch=2 if phase == "crash" else None)
    else:
        model_name, opt_kind = case.split("-")
        out = ddp(model_name, opt_kind)
    np.savez(os.path.join(outdir, f"{case}.rank{r}.npz"), **out)


if __name__ == "__main__":
    for c in sys.argv[2:]:
        main(c, sys.argv[1])
