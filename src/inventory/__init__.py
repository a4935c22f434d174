"""Inventory: a self-hosted inventory that answers "where is my …?" in plain words."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("inventory")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
