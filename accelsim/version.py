"""The package version, in one place (vocabulary: imports nothing of accelsim)."""

__version__ = "0.1.0"
