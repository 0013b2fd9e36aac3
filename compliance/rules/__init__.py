"""Pure compliance rules (see ``evaluation``); this package re-exports them."""

from .evaluation import *  # noqa: F403
from .evaluation import USD, __all__  # noqa: F401
