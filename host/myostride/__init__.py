"""myostride: wireless surface EMG for clinical walking trials (host package)."""

__version__ = "0.1.0"
