"""Bulk imports of CSV files (PRODUCT section 7); see ``kinds`` (the module
this package grew from) until it is split along its seams."""

from .kinds import *  # noqa: F403
from .kinds import _shown as _shown
