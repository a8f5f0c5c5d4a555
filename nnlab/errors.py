"""The one exception type for user mistakes.

Anything a user can fix (a bad override, a broken experiment module, bad data) raises `NnlabError` with one
paragraph naming the file or field and the fix. The CLI prints that paragraph alone; every other exception is a
bug in nnlab and keeps its traceback.
"""


class NnlabError(ValueError):
    """A user-fixable problem; `str(error)` is the whole message."""
