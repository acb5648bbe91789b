"""Rebuild digits_9_vs_4.csv from scikit-learn's bundled handwritten digits (no network needed).

All 180 images of 9 and 20 images of 4 (chosen with seed 0): a 9:1 imbalanced binary problem, a small
cousin of the MNIST "all 9s vs 100 4s" experiment. 64 pixel columns (0-16) + label, with a header.
Run from the repository root: python data/quickstart/make_digits_9_vs_4.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

digits = load_digits()
rng = np.random.default_rng(0)
nines = np.flatnonzero(digits.target == 9)
fours = np.sort(rng.choice(np.flatnonzero(digits.target == 4), size=20, replace=False))
rows = np.sort(np.concatenate([nines, fours]))
out = Path(__file__).with_name("digits_9_vs_4.csv")
header = ",".join([f"px{i}" for i in range(64)] + ["digit"])
lines = [",".join(str(int(v)) for v in digits.data[i]) + f",{digits.target[i]}" for i in rows]
out.write_text(header + "\n" + "\n".join(lines) + "\n")
print(f"wrote {out} ({len(rows)} rows: {len(nines)} nines, {len(fours)} fours)")
