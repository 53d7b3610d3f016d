"""refconv's version, in one place: the package, the command and pyproject.toml read it here."""

__version__ = "0.2.0"
