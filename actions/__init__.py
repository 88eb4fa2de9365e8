"""Custom actions, served by the action server (`python -m tools.serve actions --actions actions`)."""

from core.settings import get_settings

# Read the settings when the action server loads this package: an invalid one stops the server
# at start with the variable's name, not at the first ticket.
get_settings()
