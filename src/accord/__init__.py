"""accord: keep terrorist and violent extremist content off a platform, respect its
users' rights while doing it, and prove what was done.

The public API: the settings, the service container, the error tree.
"""

__version__ = "0.1.0"

from accord.config import Settings
from accord.errors import AccordError
from accord.runtime import Accord

__all__ = ["Accord", "AccordError", "Settings", "__version__"]
