"""
ONNX export and onnxruntime
===========================

:func:`softreg.to_onnx` turns a fitted model, or a scikit-learn ``Pipeline`` ending in
one, into an ONNX graph that any ONNX runtime can serve without Python or softreg. Here a
scaler plus softmax regression pipeline on the wine data, run by onnxruntime and checked
against ``predict_proba``.
"""

# %%
import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression, to_onnx

X, y = load_wine(return_X_y=True)
names = np.array(["barolo", "grignolino", "barbera"])  # string labels survive the export
pipeline = make_pipeline(StandardScaler(), SoftmaxRegression(alpha=1e-2)).fit(X, names[y])

onx = to_onnx(pipeline)  # float32 input "X" of shape (N, 13)
print("inputs: ", [(i.name, i.type.tensor_type.elem_type) for i in onx.graph.input])
print("outputs:", [o.name for o in onx.graph.output])
print("operators:", sorted({node.op_type for node in onx.graph.node}))

# %%
# Run it
# ------
# The graph's outputs are the labels (here strings) and the probabilities of shape
# (N, K), in the order of ``classes_``.
session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
labels, proba = session.run(None, {"X": X.astype(np.float32)})
print(labels[:5], proba.shape)
print("same labels as predict:", bool(np.all(labels == pipeline.predict(X))))
print(f"largest probability difference (float32 graph): "
      f"{np.abs(proba - pipeline.predict_proba(X)).max():.1e}")

# %%
# Double precision
# ----------------
# ``dtype=numpy.float64`` builds a float64 graph, equal to ``predict_proba`` to rounding.
onx64 = to_onnx(pipeline, dtype=np.float64)
session64 = ort.InferenceSession(onx64.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
_, proba64 = session64.run(None, {"X": X})
print(f"largest probability difference (float64 graph): "
      f"{np.abs(proba64 - pipeline.predict_proba(X)).max():.1e}")

# %%
# Save the graph with ``onnx.save(onx, "wine.onnx")``, or from the shell:
# ``softreg export model.softreg model.onnx``.
