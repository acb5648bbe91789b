"""imbrun: reproducible experiments for neural-network classifiers on class-imbalanced data."""

__version__ = "0.1.0"
