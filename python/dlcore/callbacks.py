"""dlcore.callbacks: hooks into Model.fit (Keras's names and semantics).

Callback methods receive a ``logs`` dict: on_train_batch_end gets the running epoch means
('loss', metrics, plus 'size' and 'batch_loss'); on_epoch_end gets the epoch's means and the
'val_*' values. ``self.model`` is the model being trained; setting
``self.model.stop_training = True`` ends training after the current batch.
"""
from __future__ import annotations

import csv
import inspect
import io
import math
import numbers
import os
import shutil
import sys
import time

from .optim import lr_scheduler

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger",
           "TerminateOnNaN", "LambdaCallback", "get_lr", "set_lr"]


class Callback:
    # in a data-parallel fit (dlcore.distributed), only rank 0 runs callbacks marked True: the
    # ones that print or write files; the others run on every rank, with the same global logs
    rank_zero_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


class CallbackList:
    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            c.set_model(model)

    def set_params(self, p):
        for c in self.callbacks:
            c.set_params(p)

    def _all(self, name, *args):
        for c in self.callbacks:
            getattr(c, name)(*args)

    def on_train_begin(self, logs=None): self._all("on_train_begin", logs or {})
    def on_train_end(self, logs=None): self._all("on_train_end", logs or {})
    def on_epoch_begin(self, e, logs=None): self._all("on_epoch_begin", e, logs or {})
    def on_epoch_end(self, e, logs=None): self._all("on_epoch_end", e, logs or {})
    def on_train_batch_begin(self, b, logs=None): self._all("on_train_batch_begin", b, logs or {})
    def on_train_batch_end(self, b, logs=None): self._all("on_train_batch_end", b, logs or {})


# ---- optimizer learning rate -------------------------------------------------------------------

def get_lr(model):
    opt = model._ensure_optimizer()
    return float(opt.param_groups[0]["lr"])


def set_lr(model, lr):
    for g in model._ensure_optimizer().param_groups:
        g["lr"] = float(lr)


# ---- History -----------------------------------------------------------------------------------

class History(Callback):
    """Records the epoch logs: ``history.history['loss'][i]`` is epoch i's mean training loss."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, path, keys=None, title=None):
        """Writes a PNG of the curves: one panel per quantity (loss, each metric), training and
        validation together. Needs matplotlib (pip install 'dlcore[plot]')."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib "
                              "(or pip install 'dlcore[plot]')") from e
        base = [k for k in self.history if not k.startswith("val_") and k != "lr"]
        if keys is not None:
            base = list(keys)
        if not base:
            raise ValueError("History.plot: nothing recorded yet (train with fit first)")
        fig, axes = plt.subplots(1, len(base), figsize=(5 * len(base), 3.6), squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, k in zip(axes[0], base):
            ax.plot(epochs, self.history[k], "o-", label="train " + k)
            if "val_" + k in self.history:
                ax.plot(epochs, self.history["val_" + k], "s--", label="validation " + k)
            ax.set_xlabel("epoch")
            ax.set_ylabel(k)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


# ---- progress ----------------------------------------------------------------------------------

def _fmt_time(s):
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _fmt_logs(logs, skip=("size", "batch_loss")):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if k not in skip and isinstance(v, (int, float)))


def _cols(stream):
    """The width of the terminal that stream writes to ($COLUMNS, else the terminal's, else 80)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return max(int(os.environ["COLUMNS"]), 20)
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 20)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return max(shutil.get_terminal_size((80, 20)).columns, 20)


def _wrap(parts, cols, sep=" - ", indent="    "):
    """parts joined by sep, broken into lines of at most cols characters at the separators."""
    lines, cur = [], ""
    for p in parts:
        cand = p if not cur else cur + sep + p
        if cur and len(cand) > cols:
            lines.append(cur)
            cur = indent + p
        else:
            cur = cand
    lines.append(cur)
    return "\n".join(lines)


class ProgbarLogger(Callback):
    """verbose=1: a live bar per epoch (tqdm when installed, else one carriage-return line)
    with loss, metrics, samples/s and ETA, when stdout is a terminal; when it is not (pipes,
    log files, notebooks) it prints one line per epoch instead, never a line per update.
    verbose=2: one line per epoch."""

    rank_zero_only = True

    def __init__(self, verbose=1, stream=None, min_interval=0.1):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self.min_interval = min_interval

    def _out(self):
        return self.stream or sys.stdout

    def _live(self):
        out = self._out()
        return self.verbose == 1 and hasattr(out, "isatty") and out.isatty()

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.seen = 0
        self.epoch = epoch
        self.steps = self.params.get("steps")
        self.bar = None
        if self._live():
            try:
                from tqdm.auto import tqdm
                # a fixed width from the terminal: the bar shrinks to make room for the numbers,
                # which stay short enough (no samples/s under 100 columns) to fit 80 columns
                cols = _cols(self._out())
                self.bar = tqdm(total=self.steps, file=self._out(), leave=True, ncols=cols - 1,
                                desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}", unit="batch",
                                bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining}{postfix}")
            except ImportError:
                self.bar = None

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.seen += int(logs.get("size", 0))
        if not self._live():
            return
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(batch + 1 - self.bar.n)
            if now - self.last >= self.min_interval:
                self.last = now
                el = now - self.t0
                post = {k: f"{v:.4f}" for k, v in logs.items() if k not in ("size", "batch_loss")}
                if self.bar.ncols is None or self.bar.ncols >= 100:
                    post["samples/s"] = f"{self.seen / el:.0f}" if el > 0 else "?"
                self.bar.set_postfix(post, refresh=False)
            return
        last_batch = self.steps is not None and batch + 1 >= self.steps
        if now - self.last < self.min_interval and not last_batch:
            return
        self.last = now
        el = now - self.t0
        done = batch + 1
        rate = self.seen / el if el > 0 else 0.0
        cols = _cols(self._out()) - 1  # the last column would wrap on some terminals
        epoch = f"Epoch {self.epoch + 1}/{self.params.get('epochs')}"
        tail = _fmt_logs(logs)
        rate_s = f" - {rate:.0f} samples/s"
        if self.steps:
            eta = f" ETA {_fmt_time(el / done * (self.steps - done))}"
            fixed = f"{epoch} {done}/{self.steps} [] {eta}" + (" - " + tail if tail else "")
            if len(fixed) + len(rate_s) + 10 <= cols:
                fixed += rate_s
            else:
                rate_s = ""
            width = max(min(24, cols - len(fixed)), 0)  # the bar takes what the numbers leave
            fill = int(width * done / self.steps)
            bar = "[" + "=" * max(fill - 1, 0) + (">" if fill < width else "=" if width else "") + "." * (width - fill) + "]"
            text = f"{epoch} {done}/{self.steps} {bar}{eta}" + (" - " + tail if tail else "") + rate_s
        else:
            text = f"{epoch} {done} batches" + (" - " + tail if tail else "") + rate_s
        out = self._out()
        out.write("\r" + text[:cols].ljust(min(cols, self.__dict__.get("_last_len", 0))))
        self._last_len = min(len(text), cols)
        out.flush()

    def on_epoch_end(self, epoch, logs=None):
        el = time.perf_counter() - self.t0
        rate = self.seen / el if el > 0 else 0.0
        logs = {k: v for k, v in (logs or {}).items() if k not in ("size", "batch_loss")}
        parts = [f"Epoch {epoch + 1}/{self.params.get('epochs')}", f"{el:.1f}s", f"{rate:.0f} samples/s"]
        parts += [f"{k}: {v:.4f}" for k, v in logs.items() if isinstance(v, (int, float))]
        out = self._out()
        live = self._live()
        line = _wrap(parts, _cols(out) - 1) if live else " - ".join(parts)
        if self.bar is not None:
            self.bar.close()
            out.write(line + "\n")
        elif live:
            out.write("\r" + line.ljust(self.__dict__.get("_last_len", 0)) + "\n")
        else:
            out.write(line + "\n")
        out.flush()


# ---- monitoring helpers ------------------------------------------------------------------------

def _mode(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    m = monitor.lower()
    return "max" if any(s in m for s in ("acc", "auc", "precision", "recall", "f1", "r2")) else "min"


class _Monitor(Callback):
    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = monitor
        self.mode = _mode(mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, v):
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def _value(self, logs):
        v = (logs or {}).get(self.monitor)
        if v is None:
            avail = ", ".join(k for k in (logs or {}) if k not in ("size", "batch_loss"))
            print(f"{type(self).__name__}: '{self.monitor}' is not in the logs (available: {avail}); "
                  f"skipping", file=sys.stderr)
        return v


class EarlyStopping(_Monitor):
    """Stops when ``monitor`` has not improved by more than min_delta for ``patience`` epochs.
    With restore_best_weights=True the model ends training with the weights (parameters and
    buffers) of its best epoch."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False, baseline=None, start_from_epoch=0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.restore_best_weights = int(patience), restore_best_weights
        self.baseline, self.start_from_epoch, self.verbose = baseline, start_from_epoch, verbose

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)

    def on_epoch_end(self, epoch, logs=None):
        v = self._value(logs)
        if v is None or epoch < self.start_from_epoch:
            return
        if self._improved(v):
            self.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: t.detach().clone()
                                     for k, t in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping ({self.monitor} best {self.best:.4f} at "
                      f"epoch {self.best_epoch + 1 if self.best_epoch is not None else '-'})")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1}")


class ModelCheckpoint(_Monitor):
    """Saves the model (model.save, or weights only) at the end of epochs. ``filepath`` may hold
    format fields: '{epoch:02d}' (1-based, like Keras) and any log key, e.g. '{val_loss:.3f}'.
    save_best_only=True saves only when ``monitor`` improves (so the file holds the best model)."""

    rank_zero_only = True

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto",
                 save_weights_only=False, verbose=0):
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.save_best_only, self.save_weights_only, self.verbose = save_best_only, save_weights_only, verbose
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            v = self._value(logs)
            if v is None or not self._improved(v):
                return
            self.best = v
        path = self.filepath.format(epoch=epoch + 1, **{k: v for k, v in logs.items()})
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch to schedule(epoch, lr) (or
    schedule(epoch) for one-argument functions)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose
        try:
            self._two = len(inspect.signature(schedule).parameters) >= 2
        except (TypeError, ValueError):
            self._two = True

    def on_epoch_begin(self, epoch, logs=None):
        lr = get_lr(self.model)
        new = self.schedule(epoch, lr) if self._two else self.schedule(epoch)
        if not isinstance(new, numbers.Real) or not math.isfinite(float(new)):
            raise ValueError(f"LearningRateScheduler: schedule returned {new!r}, not a finite number")
        set_lr(self.model, float(new))
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {float(new):.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = get_lr(self.model)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by ``factor`` when ``monitor`` has not improved (by more
    than min_delta) for ``patience`` epochs (never below min_lr), then waits ``cooldown`` epochs.
    Keras's semantics, driving dlcore.optim.lr_scheduler.ReduceLROnPlateau (torch's schedule)
    with the epoch's logged value: Keras counts ``patience`` epochs without improvement where
    torch waits for more than ``patience``, and the epoch that ends a Keras cooldown already
    counts, so the scheduler gets patience - 1 and cooldown - 1."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, verbose=0):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown, self.min_lr, self.verbose = \
            float(factor), int(patience), int(cooldown), float(min_lr), verbose
        self.scheduler = None

    def on_train_begin(self, logs=None):
        self.scheduler = None  # made at the first epoch end: lazy layers build their weights first

    def on_epoch_end(self, epoch, logs=None):
        v = self._value(logs)
        if logs is not None:
            logs["lr"] = get_lr(self.model)
        if v is None:
            return
        if self.scheduler is None:
            self.scheduler = lr_scheduler.ReduceLROnPlateau(
                self.model._ensure_optimizer(), mode=self.mode, factor=self.factor,
                patience=max(self.patience - 1, 0), threshold=self.min_delta, threshold_mode="abs",
                cooldown=max(self.cooldown - 1, 0), min_lr=self.min_lr, eps=0.0)
        old = get_lr(self.model)
        self.scheduler.step(v)
        self.best = self.scheduler.best
        if self.verbose and get_lr(self.model) < old:
            print(f"Epoch {epoch + 1}: ReduceLROnPlateau lowered the learning rate to {get_lr(self.model):.6g}")


class CSVLogger(Callback):
    """Appends one CSV row per epoch: epoch, then the log keys (sorted). append=True continues
    an existing file (e.g. when resuming)."""

    rank_zero_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None
        self.f = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.f = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None
        if exists:
            with open(self.filename, newline="") as r:
                head = next(csv.reader(r, delimiter=self.sep), None)
            self.keys = head[1:] if head else None

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: v for k, v in (logs or {}).items() if k not in ("size", "batch_loss")}
        if self.keys is None:
            self.keys = sorted(logs)
            csv.writer(self.f, delimiter=self.sep).writerow(["epoch"] + self.keys)
        row = [epoch] + [logs.get(k, "NA") for k in self.keys]
        csv.writer(self.f, delimiter=self.sep).writerow(row)
        self.f.flush()

    def on_train_end(self, logs=None):
        if self.f is not None:
            self.f.close()
            self.f = None


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or infinite, with a message naming the
    training step (optimizer steps since fit began, counting from 1), the epoch and the batch
    (a diverging run: lower the learning rate or check the data; dlcore.autograd.detect_anomaly
    finds the op). ``stopped`` is then (step, epoch, batch), 1-based."""

    def __init__(self):
        super().__init__()
        self.stopped = None
        self.step = 0
        self.epoch = 0

    def on_train_begin(self, logs=None):
        self.step = 0
        self.stopped = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        v = (logs or {}).get("batch_loss", (logs or {}).get("loss"))
        if v is not None and not math.isfinite(v):
            self.stopped = (self.step, self.epoch + 1, batch + 1)
            print(f"TerminateOnNaN: step {self.step} (epoch {self.epoch + 1}, batch {batch + 1}): the "
                  f"loss is {v}; training stopped (the run diverged: lower the learning rate or check "
                  f"the inputs for NaN / Inf; dlcore.autograd.detect_anomaly() names the op)",
                  file=sys.stderr)
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Callback from plain functions: on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_batch_begin(batch, logs), on_batch_end(batch, logs), on_train_begin(logs), on_train_end(logs)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None,
                 on_batch_end=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_batch_begin", on_batch_begin), ("on_batch_end", on_batch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)
