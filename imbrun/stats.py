"""The statistics behind `imbrun compare`: is a difference between runs real, and for which classes?

Two runs on the same test rows -> `mcnemar_exact` (any difference in errors) and `paired_bootstrap`
(confidence intervals of B - A for macro-F1, balanced accuracy and each class's recall).
Groups of runs over seeds -> `seed_group_summary` and `welch_groups`.
`bucket_classes` groups classes by training count; `test_fingerprint` checks two runs used the same test rows.
Pure numpy/scipy; bad input raises ImbrunError.
"""

from imbrun.stats_groups import GroupSummary, bucket_classes, seed_group_summary, test_fingerprint, welch_groups
from imbrun.stats_paired import BootstrapCI, McNemarResult, mcnemar_exact, paired_bootstrap

__all__ = [
    "BootstrapCI",
    "GroupSummary",
    "McNemarResult",
    "bucket_classes",
    "mcnemar_exact",
    "paired_bootstrap",
    "seed_group_summary",
    "test_fingerprint",
    "welch_groups",
]
