"""The package version, apart from `fststyle/__init__.py` so that modules can name it without
importing the package's public functions (and so without an import cycle)."""

__version__ = "0.1.0"
