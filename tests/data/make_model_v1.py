"""Write model_v1_0.softreg and its expected predictions (run once per format version).

    PYTHONPATH=src python tests/data/make_model_v1.py
"""

import json
from pathlib import Path

import numpy as np

import softreg

here = Path(__file__).parent
rng = np.random.default_rng(0)
X = rng.normal(size=(30, 3))
y = np.array(["cat", "dog", "emu"])[np.argmax(X @ rng.normal(size=(3, 3)), axis=1)]
import pandas as pd  # noqa: E402

frame = pd.DataFrame(X, columns=["height", "weight", "age"])
model = softreg.SoftmaxRegression(alpha=0.1, solver="lbfgs").fit(frame, y)
softreg.save(model, here / "model_v1_0.softreg")
X_new = np.round(rng.normal(size=(5, 3)), 3)
(here / "model_v1_0.expected.json").write_text(json.dumps({
    "X": X_new.tolist(),
    "predict": model.predict(pd.DataFrame(X_new, columns=frame.columns)).tolist(),
    "predict_proba": model.predict_proba(pd.DataFrame(X_new, columns=frame.columns)).tolist(),
}, indent=1) + "\n")
