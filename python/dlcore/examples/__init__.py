"""Runnable examples: python -m dlcore.examples.<name>."""

__all__ = []
