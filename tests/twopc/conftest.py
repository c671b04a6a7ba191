import sys
from pathlib import Path

# The 2PC tests share helpers in twopc_helpers.py, imported by bare name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
