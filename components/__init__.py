"""Custom Rasa NLU components (referenced from config.yml by their module path).

Importing the package also applies `rasa_patches` (a measured fix to Rasa's
custom-action hot path): every process that loads our model imports it.
"""

from components import rasa_patches

rasa_patches.apply()
