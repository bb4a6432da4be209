"""The exporter's user errors: a stable code and a message that says what is wrong and what to do."""
from __future__ import annotations


class ExportError(Exception):
    """A failure the user can act on; the command line prints `sam3-export: <code>: <message>` and exits 2."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
