import sys
from pathlib import Path

# simworld.py (a small simulated world for recorder tests) lives beside the recorder's own tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_acq"))
