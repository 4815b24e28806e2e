"""``softreg export MODEL OUT.onnx``: the model as an ONNX graph."""

from __future__ import annotations

from ._base import UsageError, emit_json, json_option
from ._model import load_model
from ._types import positive_int


def add_parser(sub, parents) -> None:
    p = sub.add_parser("export", parents=parents, help="export a model to ONNX",
                       description="Write MODEL as an ONNX file with input X (n, d) and outputs "
                       "label (n,) and probabilities (n, K).")
    p.add_argument("model", metavar="MODEL", help="model file written by 'softreg fit'")
    p.add_argument("output", metavar="OUT.onnx", help="ONNX file to write")
    p.add_argument("--float64", action="store_true", help="double-precision input and output")
    p.add_argument("--opset", type=positive_int, default=None, metavar="N",
                   help="target ONNX opset (default: the newest that skl2onnx supports)")
    json_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    if not args.output.lower().endswith(".onnx"):
        raise UsageError(f"{args.output!r}: the output file name must end in .onnx")
    model, _ = load_model(args.model)
    from .._atomic import atomic_write
    from .._onnx_export import to_onnx

    onx = to_onnx(model, dtype=np.float64 if args.float64 else np.float32,
                  target_opset=args.opset)
    data = onx.SerializeToString()
    with atomic_write(args.output, "wb") as fh:
        fh.write(data)
    info = {"output": args.output, "bytes": len(data), "inputs": ["X"],
            "outputs": [o.name for o in onx.graph.output],
            "opset": max(o.version for o in onx.opset_import if o.domain in ("", "ai.onnx"))}
    if args.json:
        emit_json(info)
    else:
        print(f"wrote {args.output} ({info['bytes']} bytes, opset {info['opset']}): input X "
              f"(n, {model.n_features_in_}), outputs {', '.join(info['outputs'])}")
    return 0
