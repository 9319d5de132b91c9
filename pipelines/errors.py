"""Errors a user can fix. The CLI prints their message as one line and exits with status 2."""


class UserError(Exception):
    """A problem with the user's input (file, project, period, arguments), not a bug.

    The message must name what is wrong and where (file, row, rule) in one line.
    """


class WarehouseBusy(UserError):
    """Another process holds the warehouse for longer than the lock timeout."""
