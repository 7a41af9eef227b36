"""User-facing errors: one readable line on stderr and exit status 2, never a traceback."""


class EvopruneError(Exception):
    """An error caused by the user's input (files, flags, models); the CLI prints it as one line."""

    exit_code = 2


class DataError(EvopruneError):
    """A dataset file is missing, truncated or malformed."""


class ModelError(EvopruneError):
    """A model file or model object cannot be used for pruning."""


class ConfigError(EvopruneError):
    """An option or combination of options is invalid."""
