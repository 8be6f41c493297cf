"""The one exception the CLI turns into a clear one-line message (no traceback)."""


class UserError(Exception):
    """Bad input or a state the user can fix; the message names the problem and the fix."""
