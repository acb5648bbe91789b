"""The one exception type the CLI turns into a clean one-line message."""


class ImbrunError(Exception):
    """A user-facing error: the message is shown as is, without a traceback.

    `exit_code` follows the CLI convention: 2 for bad input (config, data, arguments),
    1 for a failure while running.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
