"""dlcore.device: where a tensor's storage lives ("cpu", or "cuda" / "cuda:0" for the GPU).

A tensor's device is read from its storage (``t.device``); devices compare equal to their
names, so ``t.device == "cpu"`` works as it does in PyTorch."""
from __future__ import annotations

__all__ = ["device"]

_cache = {}


class device:
    """A device: type "cpu" or "cuda", and for CUDA an index (dlcore drives one GPU, index 0)."""

    __slots__ = ("type", "index")

    def __new__(cls, type=None, index=None):  # noqa: A002 - PyTorch's name: device(type='cpu')
        spec = type
        if spec is None:
            raise TypeError("device: missing the device type ('cpu' or 'cuda')")
        if isinstance(spec, device) and index is None:
            return spec
        key = (spec, index)
        hit = _cache.get(key) if isinstance(spec, str) else None
        if hit is not None:
            return hit
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a device or a string such as 'cpu' or 'cuda', got {spec!r}")
        kind, _, num = spec.partition(":")
        if kind not in ("cpu", "cuda") or (num and not num.isdigit()):
            raise ValueError(f"device: unknown device '{spec}'; expected 'cpu' or 'cuda' (or 'cuda:0')")
        if num:
            if index is not None:
                raise ValueError(f"device: '{spec}' already names an index; do not also pass index={index}")
            index = int(num)
        if kind == "cpu" and index not in (None, 0):
            raise ValueError(f"device: the CPU has no index, got 'cpu' with index {index}")
        d = object.__new__(cls)
        d.type = kind
        d.index = index if kind == "cuda" else None
        if isinstance(spec, str):
            _cache[key] = d
        return d

    @property
    def name(self):
        """The storage's name for this device: 'cpu' or 'cuda:N'."""
        return "cpu" if self.type == "cpu" else f"cuda:{self.index or 0}"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.name == other.name

    def __hash__(self):
        return hash(self.name)
