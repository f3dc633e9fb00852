import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("LABS_QUIET", "1")
