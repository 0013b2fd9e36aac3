"""Partner Center reconciliation files -> revenue records (PRODUCT section
7); see ``scanner`` (the module this package grew from) until it is split
along its seams."""

from .scanner import *  # noqa: F403
