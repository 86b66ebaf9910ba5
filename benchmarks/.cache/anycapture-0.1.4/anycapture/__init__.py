__version__ = "0.1.4"

from .anycapture import get_local