"""The base class of every error whose message is all the user needs.

A :class:`UserError` is a problem of the user's data, files or settings, not of the code: its
message names the file (and row, frame or config key) and, where there is one, the fix. A rule
script logs it as it is, without a traceback (:func:`echobeat.logs.setup_logging`); any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem of the input that its message fully explains (it names the file, row or key)."""
