"""The error hierarchy. Each error's text is what the user reads.

Exit codes are mapped in exactly one place, ``ftdiag.cli``:
``InputError`` and ``UsageError`` -> 2, anything unexpected -> 3.
"""

from __future__ import annotations


class FtdiagError(Exception):
    """Base class of every error ftdiag raises on purpose."""

    exit_code = 2


class InputError(FtdiagError):
    """A file could not be read as a training log.

    ``path`` names the file, ``where`` the line or row (``"line 12"``), and the
    message says what was wrong or what was expected.
    """

    def __init__(self, path: str, message: str, where: str | None = None) -> None:
        self.path = str(path)
        self.where = where
        self.detail = message
        loc = f"{self.path}, {where}" if where else self.path
        super().__init__(f"{loc}: {message}")


class UnknownFormatError(InputError):
    """No reader recognised the file."""


class NoDataError(InputError):
    """The file was read but holds nothing that can be diagnosed."""


class UsageError(FtdiagError):
    """Bad options or arguments (not a problem with a file's content)."""


class MissingDependencyError(FtdiagError):
    """An optional extra is needed for this input or output."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'ftdiag[{extra}]'"
        )
