"""Runnable examples: python -m dlcore.examples.<name>."""
