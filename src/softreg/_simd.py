"""Explicit SIMD vectors for numba kernels: a vector type and a few LLVM-level operations.

numba leaves vectorisation to LLVM's loop vectoriser, which (i) prefers 256-bit vectors on
AVX-512 hosts and (ii) vectorises a register-tiled matrix product only along its inner
(reduction) loop, with a horizontal sum per output and a scalar tail. The kernels of
:mod:`softreg._kernel_simd` instead hold vectors in local variables of the type defined
here (an LLVM ``<L x double>`` or ``<L x float>`` value, kept in a register by LLVM) and
combine them with the operations below, so the register tile is written out as it
should be compiled: outer-product updates, no horizontal sums, masked loads for tails.

Vector width: ``LANES64`` doubles (``LANES32`` floats) per vector: 8 (16) on a host with
AVX-512F, 4 (8) elsewhere (``SOFTREG_SIMD_BITS`` overrides it, for tests). Any width is
correct on any LLVM target: LLVM splits a vector wider than the host's registers, and a
masked load or store into what the host has; the choice only sets the speed.
:func:`wide` marks the enclosing function "prefer-vector-width"="512" and
"min-legal-vector-width"="512": without them LLVM's x86 back end, which prefers 256-bit
vectors on AVX-512 hosts, would split each 512-bit operation in two. They are hints, set
only on an AVX-512 host.

Operations (``a``: a contiguous array, ``i``: a flat element index into its data, ``c``: a
lane count, lanes at or past ``c`` are neither read nor written):

- ``lanes_of(x)``: the lanes of :func:`splat`'s vector for scalar x, a compile-time
  constant (``a.itemsize`` is an array's run-time field: offsets built from it are not)
- ``splat(x)``: every lane x (float64 x: LANES64 doubles; float32 x: LANES32 floats)
- ``splatas(x, y)``: every lane x converted to scalar y's dtype (a vector as ``splat(y)``)
- ``load(a, i)``, ``load_mask(a, i, c)`` (the other lanes 0): a's dtype, as :func:`splat`
- ``loadw(a, i)``, ``loadw_mask(a, i, c)``: LANES64 doubles from float32 or float64 a
- ``store(a, i, v)``, ``store_mask(a, i, v, c)``: v in a's dtype (narrowing f64 -> f32)
- ``fma(x, y, z)``: x * y + z (fused where the host has FMA), ``add(x, y)``
- ``hsum(v)``: the sum of the lanes (a scalar)
- ``loadas(a, i, x)``, ``loadas_mask(a, i, c, x)``: a vector of scalar x's dtype from a
  (widened or rounded as needed), as :func:`splat` would make of x
- ``loadrep(a, i, tok, x)``, ``loadrep_mask(a, i, c, tok, x)``: the g = len(tok) elements
  a[i], .., a[i + g - 1] (masked: those below c, the others 0) in scalar x's dtype,
  repeated to fill the vector (lane l holds a[i + l % g]): one broadcast load
  (``vbroadcastsd``, ``vbroadcastf32x4``, ..). ``tok`` is any tuple of g entries: its
  length is the compile-time group size (g divides the lanes; g = 0 types, never runs)
- ``piece_sums(a, ga, b, gb)``: lane q < p1 = L / g1 holds the sum of a's lanes
  q g1 .. q g1 + g1 - 1, lane p1 + q (q < L / g2) the sum of b's group q of g2 lanes
  (g1 = len(ga), g2 = len(gb); gb empty: a only; the lanes past are unspecified):
  log2(g) butterfly shuffles and adds per vector, one shuffle to join them
- ``store_columns(Z, o, B, b, bo, v0, .., v7, ga, gb)``: Z[o + q B + r] = v_r[q] +
  b[bo + q] for the 8 rows r and the P = L / g1 + L / g2 classes q of :func:`piece_sums`'
  vectors: their transpose into a class-major Z (row stride B), in Z's dtype, by shuffles
- ``bits_to_float64(i)``: the float64 whose bits are the int64 i (a scalar bitcast);
  ``float64_to_bits(x)`` the other way
- ``prefetch_l2(a, i)``, ``prefetch_l1(a, i)``: hint the CPU to bring the cache line of
  a's element i into L2 (L1)

Indices are not bounds-checked: the callers keep them inside the arrays.
"""

from __future__ import annotations

import os
from typing import Any

numba: Any
try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None


def _host_has_avx512() -> bool:
    if numba is None:
        return False
    from llvmlite import binding  # type: ignore[import-untyped]
    try:
        features = binding.get_host_cpu_features()
    except RuntimeError:  # pragma: no cover - LLVM could not read them
        return False
    return bool(features.get("avx512f", False))


def _vector_bits() -> int:
    """512 on an AVX-512 host, else 256; ``SOFTREG_SIMD_BITS`` (128, 256, 512) overrides.

    The override exists for tests (the narrower layouts of other hosts run here too).
    numba's on-disk cache does not know about it, so with it the kernels are compiled in
    memory only (:data:`CACHE`): code of one width never meets a process of another.
    """
    forced = os.environ.get("SOFTREG_SIMD_BITS", "")
    if forced in ("128", "256", "512"):
        return int(forced)
    return 512 if _host_has_avx512() else 256


#: bits per vector
BITS = _vector_bits()
#: whether the kernels may use numba's on-disk cache (not with a forced width)
CACHE = os.environ.get("SOFTREG_SIMD_BITS", "") not in ("128", "256", "512")
#: whether the kernels ask LLVM for 512-bit registers (:func:`wide`)
WIDE = BITS == 512
#: float64 lanes per vector
LANES64 = BITS // 64
#: float32 lanes per vector
LANES32 = 2 * LANES64


def _build():  # noqa: C901 - one closure per operation; small each
    from llvmlite import binding, ir
    from numba.core import cgutils, types

    PREFETCH = "llvm.prefetch.p0" if binding.llvm_version_info[0] >= 17 else \
        "llvm.prefetch.p0i8"
    from numba.extending import intrinsic, models, register_model

    class VecType(types.Type):
        """An LLVM vector of ``lanes`` values of ``dtype`` (float32 or float64)."""

        def __init__(self, dtype, lanes):
            self.dtype = dtype
            self.lanes = lanes
            super().__init__(name=f"simd{lanes}x{dtype}")

    @register_model(VecType)
    class VecModel(models.PrimitiveModel):
        def __init__(self, dmm, fe_type):
            elem = ir.DoubleType() if fe_type.dtype == types.float64 else ir.FloatType()
            super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))

    v64 = VecType(types.float64, LANES64)
    v32 = VecType(types.float32, LANES32)

    def vec_of(dtype):
        if dtype == types.float64:
            return v64
        if dtype == types.float32:
            return v32
        return None

    def is_array(a):
        return isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)

    def pointer(context, builder, aty, a, ity, i, vty):
        ary = context.make_array(aty)(context, builder, a)
        index = context.cast(builder, i, ity, types.intp)
        return builder.bitcast(builder.gep(ary.data, [index]), vty.as_pointer())

    def lane_mask(context, builder, cty, c, lanes):
        c = context.cast(builder, c, cty, types.int32)
        i32 = ir.IntType(32)
        iota = ir.Constant(ir.VectorType(i32, lanes), [i32(k) for k in range(lanes)])
        cv = builder.insert_element(ir.Constant(ir.VectorType(i32, lanes), ir.Undefined),
                                    c, i32(0))
        cv = builder.shuffle_vector(cv, cv, ir.Constant(ir.VectorType(i32, lanes),
                                                        [i32(0)] * lanes))
        return builder.icmp_signed("<", iota, cv)

    def suffix(vty):
        return f"v{vty.count}{'f64' if vty.element == ir.DoubleType() else 'f32'}"

    def pointer_suffix(vty):  # opaque pointers from LLVM 17 on
        return "p0" if binding.llvm_version_info[0] >= 17 else f"p0{suffix(vty)}"

    def masked_load(builder, ptr, vty, mask, align):
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(vty, [ptr.type, i32, mask.type, vty])
        name = f"llvm.masked.load.{suffix(vty)}.{pointer_suffix(vty)}"
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        return builder.call(fn, [ptr, i32(align), mask, ir.Constant(vty, None)])

    def masked_store(builder, value, ptr, mask, align):
        i32 = ir.IntType(32)
        vty = value.type
        fnty = ir.FunctionType(ir.VoidType(), [vty, ptr.type, i32, mask.type])
        name = f"llvm.masked.store.{suffix(vty)}.{pointer_suffix(vty)}"
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        builder.call(fn, [value, ptr, i32(align), mask])

    @intrinsic
    def bits_to_float64(typingctx, i):
        if not isinstance(i, types.Integer) or i.bitwidth != 64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())
        return types.float64(i), codegen

    @intrinsic
    def float64_to_bits(typingctx, x):
        if x != types.float64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))
        return types.int64(x), codegen

    @intrinsic
    def wide(typingctx):
        def codegen(context, builder, signature, args):
            if WIDE:
                attrs = builder.function.attributes
                set.add(attrs, '"prefer-vector-width"="512"')
                set.add(attrs, '"min-legal-vector-width"="512"')
            return context.get_dummy_value()
        return types.void(), codegen

    @intrinsic
    def lanes_of(typingctx, x):
        vt = vec_of(x)
        if vt is None:
            return None

        def codegen(context, builder, signature, args):
            return context.get_constant(types.intp, vt.lanes)
        return types.intp(x), codegen

    def broadcast(context, builder, vt, value):
        """The scalar ``value`` (of vt's element type) in every lane of a vt vector."""
        lty = context.get_value_type(vt)
        i32 = ir.IntType(32)
        v = builder.insert_element(ir.Constant(lty, ir.Undefined), value, i32(0))
        return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, vt.lanes),
                                                        [i32(0)] * vt.lanes))

    @intrinsic
    def splat(typingctx, x):
        vt = vec_of(x)
        if vt is None:
            return None

        def codegen(context, builder, signature, args):
            return broadcast(context, builder, vt, args[0])
        return vt(x), codegen

    @intrinsic
    def splatas(typingctx, x, proto):
        vt = vec_of(proto)
        if vt is None or x not in (types.float32, types.float64):
            return None

        def codegen(context, builder, signature, args):
            return broadcast(context, builder, vt, context.cast(builder, args[0], x, proto))
        return vt(x, proto), codegen

    def load_lanes(context, builder, signature, args, a, i, lanes, masked, dtype):
        """``lanes`` elements of array a from flat index args[1] (masked: the first args[2],
        the others 0), converted to the scalar type ``dtype``: an LLVM <lanes x dtype>."""
        sty = ir.VectorType(context.get_value_type(a.dtype), lanes)
        ptr = pointer(context, builder, a, args[0], i, args[1], sty)
        align = a.dtype.bitwidth // 8
        if masked:
            mask = lane_mask(context, builder, signature.args[2], args[2], lanes)
            value = masked_load(builder, ptr, sty, mask, align)
        else:
            value = builder.load(ptr, align=align)
        if a.dtype != dtype:
            wty = ir.VectorType(context.get_value_type(dtype), lanes)
            value = builder.fpext(value, wty) if dtype.bitwidth > a.dtype.bitwidth else \
                builder.fptrunc(value, wty)
        return value

    def _load(widen, masked):
        def typer(typingctx, a, i, c=None):
            if not is_array(a) or not isinstance(i, types.Integer):
                return None
            vt = v64 if widen else vec_of(a.dtype)

            def codegen(context, builder, signature, args):
                return load_lanes(context, builder, signature, args, a, i, vt.lanes, masked,
                                  vt.dtype)
            if masked:
                return vt(a, i, c), codegen
            return vt(a, i), codegen
        return typer

    def load_typer(typingctx, a, i):
        return _load(False, False)(typingctx, a, i)

    def load_mask_typer(typingctx, a, i, c):
        return _load(False, True)(typingctx, a, i, c)

    def loadw_typer(typingctx, a, i):
        return _load(True, False)(typingctx, a, i)

    def loadw_mask_typer(typingctx, a, i, c):
        return _load(True, True)(typingctx, a, i, c)

    def _loadas(masked):
        def typer(typingctx, a, i, c, proto=None):
            if proto is None:  # unmasked: (a, i, proto)
                proto, c = c, None
            vt = vec_of(proto)
            if not is_array(a) or not isinstance(i, types.Integer) or vt is None:
                return None

            def codegen(context, builder, signature, args):
                return load_lanes(context, builder, signature, args, a, i, vt.lanes, masked,
                                  vt.dtype)
            if masked:
                return vt(a, i, c, proto), codegen
            return vt(a, i, proto), codegen
        return typer

    def loadas_typer(typingctx, a, i, proto):
        return _loadas(False)(typingctx, a, i, proto)

    def loadas_mask_typer(typingctx, a, i, c, proto):
        return _loadas(True)(typingctx, a, i, c, proto)

    loadas = intrinsic(loadas_typer)
    loadas_mask = intrinsic(loadas_mask_typer)

    def _prefetch(locality):
        """``prefetch(a, i)``: load the cache line of flat element i of ``a`` toward the core
        (LLVM's ``llvm.prefetch``, read; ``locality`` 3: L1, 2: L2). An address past the
        end of ``a`` is harmless: a prefetch never faults."""
        def typer(typingctx, a, i):
            if not isinstance(a, types.Array) or not isinstance(i, types.Integer):
                return None

            def codegen(context, builder, signature, args):
                ary = context.make_array(signature.args[0])(context, builder, args[0])
                index = context.cast(builder, args[1], signature.args[1], types.intp)
                ptr = builder.bitcast(builder.gep(ary.data, [index]),
                                      ir.IntType(8).as_pointer())
                i32 = ir.IntType(32)
                fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
                fn = cgutils.get_or_insert_function(builder.module, fnty, PREFETCH)
                builder.call(fn, [ptr, i32(0), i32(locality), i32(1)])
                return context.get_dummy_value()
            return types.void(a, i), codegen
        return intrinsic(typer)

    prefetch_l1 = _prefetch(3)
    prefetch_l2 = _prefetch(2)

    load = intrinsic(load_typer)
    load_mask = intrinsic(load_mask_typer)
    loadw = intrinsic(loadw_typer)
    loadw_mask = intrinsic(loadw_mask_typer)

    def _store(masked):
        def typer(typingctx, a, i, v, c=None):
            if not is_array(a) or not isinstance(v, VecType):
                return None

            def codegen(context, builder, signature, args):
                value = args[2]
                elem = context.get_value_type(a.dtype)
                sty = ir.VectorType(elem, v.lanes)
                if v.dtype != a.dtype:
                    value = builder.fptrunc(value, sty) if a.dtype == types.float32 else \
                        builder.fpext(value, sty)
                ptr = pointer(context, builder, a, args[0], i, args[1], sty)
                align = a.dtype.bitwidth // 8
                if masked:
                    mask = lane_mask(context, builder, signature.args[3], args[3], v.lanes)
                    masked_store(builder, value, ptr, mask, align)
                else:
                    builder.store(value, ptr, align=align)
                return context.get_dummy_value()
            if masked:
                return types.void(a, i, v, c), codegen
            return types.void(a, i, v), codegen
        return typer

    def store_typer(typingctx, a, i, v):
        return _store(False)(typingctx, a, i, v)

    def store_mask_typer(typingctx, a, i, v, c):
        return _store(True)(typingctx, a, i, v, c)

    store = intrinsic(store_typer)
    store_mask = intrinsic(store_mask_typer)

    @intrinsic
    def fma(typingctx, x, y, z):
        if not isinstance(x, VecType) or x != y or x != z:
            return None

        def codegen(context, builder, signature, args):
            vty = args[0].type
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty, vty, vty]),
                f"llvm.fmuladd.{suffix(vty)}")
            return builder.call(fn, list(args))
        return x(x, y, z), codegen

    @intrinsic
    def add(typingctx, x, y):
        if not isinstance(x, VecType) or x != y:
            return None

        def codegen(context, builder, signature, args):
            return builder.fadd(args[0], args[1])
        return x(x, y), codegen

    def group(tok):
        """The compile-time group size g of a token: a tuple of g entries (0: none)."""
        return len(tok) if isinstance(tok, types.BaseTuple) else None

    def repeat(builder, value, g, lanes):
        """<g x T> -> <lanes x T>: lane l holds element l % g."""
        i32 = ir.IntType(32)
        return builder.shuffle_vector(value, ir.Constant(value.type, ir.Undefined),
                                      ir.Constant(ir.VectorType(i32, lanes),
                                                  [i32(k % g) for k in range(lanes)]))

    def _loadrep(masked):
        def typer(typingctx, a, i, c, tok, proto=None):
            if proto is None:  # unmasked: (a, i, tok, proto)
                c, tok, proto = None, c, tok
            vt = vec_of(proto)
            g = group(tok)
            if not is_array(a) or not isinstance(i, types.Integer) or vt is None or \
                    g is None or (g and vt.lanes % g):
                return None

            def codegen(context, builder, signature, args):
                lty = context.get_value_type(vt)
                if g == 0:  # no piece: never executed, typed only
                    return ir.Constant(lty, None)
                value = load_lanes(context, builder, signature, args, a, i, g, masked,
                                   vt.dtype)
                return repeat(builder, value, g, vt.lanes)
            if masked:
                return vt(a, i, c, tok, proto), codegen
            return vt(a, i, tok, proto), codegen
        return typer

    def loadrep_typer(typingctx, a, i, tok, proto):
        return _loadrep(False)(typingctx, a, i, tok, proto)

    def loadrep_mask_typer(typingctx, a, i, c, tok, proto):
        return _loadrep(True)(typingctx, a, i, c, tok, proto)

    loadrep = intrinsic(loadrep_typer)
    loadrep_mask = intrinsic(loadrep_mask_typer)

    def group_sums(builder, v, g, lanes):
        """Butterfly: every lane of each group of g adjacent lanes gets the group's sum."""
        i32 = ir.IntType(32)
        h = g // 2
        while h:
            swapped = builder.shuffle_vector(
                v, ir.Constant(v.type, ir.Undefined),
                ir.Constant(ir.VectorType(i32, lanes), [i32(k ^ h) for k in range(lanes)]))
            v = builder.fadd(v, swapped)
            h //= 2
        return v

    @intrinsic
    def piece_sums(typingctx, a, ga, b, gb):
        g1, g2 = group(ga), group(gb)
        if not isinstance(a, VecType) or a != b or g1 is None or g2 is None or \
                (g1 and a.lanes % g1) or (g2 and a.lanes % g2):
            return None

        def codegen(context, builder, signature, args):
            lanes = a.lanes
            i32 = ir.IntType(32)
            if g1 == 0:
                return ir.Constant(context.get_value_type(a), None)
            va = group_sums(builder, args[0], g1, lanes)
            vb = group_sums(builder, args[2], g2, lanes) if g2 else \
                ir.Constant(va.type, None)
            p1 = lanes // g1
            p2 = lanes // g2 if g2 else 0
            index = [q * g1 for q in range(p1)] + [lanes + q * g2 for q in range(p2)]
            index += [0] * (lanes - len(index))
            return builder.shuffle_vector(va, vb, ir.Constant(ir.VectorType(i32, lanes),
                                                              [i32(k) for k in index]))
        return a(a, ga, b, gb), codegen

    def pick(builder, a, la, b, lb, want):
        """A vector of ``want``'s labels from a (lane labels la) and b (lb); None: any."""
        i32 = ir.IntType(32)
        lanes = len(want)
        where = {lab: k for k, lab in enumerate(la)}
        where.update({lab: lanes + k for k, lab in enumerate(lb) if lab not in where})
        index = [where.get(w, 0) if w is not None else 0 for w in want]
        return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(i32, lanes),
                                                        [i32(k) for k in index]))

    @intrinsic
    def store_columns(typingctx, Z, o, B, b, bo, v0, v1, v2, v3, v4, v5, v6, v7, ga, gb):
        """Z[o + q B + r] = v_r[q] + b[bo + q] for r < 8, q < P: the 8 rows' sums (lanes q
        < P = L / g1 + L / g2 of each v_r, as :func:`piece_sums` leaves them) transposed
        into the class-major Z, converted to Z's dtype (a transpose by shuffles: each level
        pairs row groups and halves the classes per vector; then one store per class and
        group of rows)."""
        vs = (v0, v1, v2, v3, v4, v5, v6, v7)
        g1, g2 = group(ga), group(gb)
        if not is_array(Z) or not is_array(b) or not isinstance(v0, VecType) or \
                any(v != v0 for v in vs) or not g1 or g2 is None:
            return None
        lanes = v0.lanes
        P = lanes // g1 + (lanes // g2 if g2 else 0)

        def codegen(context, builder, signature, args):
            zty = context.get_value_type(Z.dtype)
            ity = signature.args[1]
            # level 0: v_r, lanes (class c, row r); then row groups of 2, 4, 8 (at most lanes)
            vecs = {(r, 0): (args[5 + r], [(c, r) for c in range(lanes)]) for r in range(8)}
            size, per = 1, lanes  # rows per group, classes per vector
            while size < 8 and per > 1:
                size, per = 2 * size, per // 2
                nxt = {}
                for g in range(8 // size):
                    for h in range(-(-P // per)):
                        want = [(c, r) for c in range(h * per, h * per + per)
                                for r in range(g * size, g * size + size)]
                        want = [w if w[0] < P else None for w in want]
                        a, la = vecs[(2 * g, h // 2)]
                        bb, lb = vecs[(2 * g + 1, h // 2)]
                        nxt[(g, h)] = (pick(builder, a, la, bb, lb, want), want)
                vecs = nxt
            bary = context.make_array(signature.args[3])(context, builder, args[3])
            bo_ = context.cast(builder, args[4], signature.args[4], types.intp)
            B_ = context.cast(builder, args[2], signature.args[2], types.intp)
            o_ = context.cast(builder, args[1], ity, types.intp)
            zary = context.make_array(signature.args[0])(context, builder, args[0])
            i32 = ir.IntType(32)
            for (g, h), (vec, labels) in vecs.items():
                for c in range(h * per, min(h * per + per, P)):
                    col = builder.shuffle_vector(
                        vec, ir.Constant(vec.type, ir.Undefined),
                        ir.Constant(ir.VectorType(i32, size),
                                    [i32(labels.index((c, r)))
                                     for r in range(g * size, g * size + size)]))
                    if Z.dtype != v0.dtype:
                        col = builder.fpext(col, ir.VectorType(zty, size)) \
                            if Z.dtype == types.float64 else \
                            builder.fptrunc(col, ir.VectorType(zty, size))
                    bias = builder.load(builder.gep(bary.data,
                                                    [builder.add(bo_, bo_.type(c))]))
                    bias = context.cast(builder, bias, b.dtype, Z.dtype)
                    bv = builder.insert_element(ir.Constant(col.type, ir.Undefined), bias,
                                                i32(0))
                    bv = builder.shuffle_vector(bv, bv, ir.Constant(ir.VectorType(i32, size),
                                                                    [i32(0)] * size))
                    col = builder.fadd(col, bv)
                    index = builder.add(builder.add(o_, builder.mul(B_, B_.type(c))),
                                        o_.type(g * size))
                    ptr = builder.bitcast(builder.gep(zary.data, [index]),
                                          col.type.as_pointer())
                    builder.store(col, ptr, align=Z.dtype.bitwidth // 8)
            return context.get_dummy_value()
        return types.void(*signature_args(Z, o, B, b, bo, vs, ga, gb)), codegen

    def signature_args(Z, o, B, b, bo, vs, ga, gb):
        return (Z, o, B, b, bo) + tuple(vs) + (ga, gb)

    @intrinsic
    def hsum(typingctx, v):
        if not isinstance(v, VecType):
            return None

        def codegen(context, builder, signature, args):
            vty = args[0].type
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty.element, [vty.element, vty]),
                f"llvm.vector.reduce.fadd.{suffix(vty)}")
            return builder.call(fn, [ir.Constant(vty.element, -0.0), args[0]],
                                fastmath=("reassoc",))
        return v.dtype(v), codegen

    return dict(
        bits_to_float64=bits_to_float64, float64_to_bits=float64_to_bits, splatas=splatas,
        loadas=loadas,
        loadas_mask=loadas_mask, prefetch_l1=prefetch_l1, prefetch_l2=prefetch_l2,
        wide=wide, splat=splat, load=load,
        load_mask=load_mask, loadw=loadw, loadw_mask=loadw_mask, store=store,
        store_mask=store_mask, fma=fma, add=add, hsum=hsum, VecType=VecType,
        loadrep=loadrep, loadrep_mask=loadrep_mask, piece_sums=piece_sums,
        store_columns=store_columns, lanes_of=lanes_of)


if numba is not None:
    _ops = _build()
    wide = _ops["wide"]
    bits_to_float64 = _ops["bits_to_float64"]
    float64_to_bits = _ops["float64_to_bits"]
    splat = _ops["splat"]
    load = _ops["load"]
    load_mask = _ops["load_mask"]
    loadw = _ops["loadw"]
    loadw_mask = _ops["loadw_mask"]
    store = _ops["store"]
    store_mask = _ops["store_mask"]
    fma = _ops["fma"]
    add = _ops["add"]
    hsum = _ops["hsum"]
    loadas = _ops["loadas"]
    loadas_mask = _ops["loadas_mask"]
    prefetch_l1 = _ops["prefetch_l1"]
    prefetch_l2 = _ops["prefetch_l2"]
    splatas = _ops["splatas"]
    loadrep = _ops["loadrep"]
    loadrep_mask = _ops["loadrep_mask"]
    piece_sums = _ops["piece_sums"]
    store_columns = _ops["store_columns"]
    lanes_of = _ops["lanes_of"]
else:  # pragma: no cover - exercised only where numba is missing

    def wide():
        """No-op without numba."""

    def prefetch_l1(a, i):
        """No-op without numba."""

    def bits_to_float64(i):
        """Without numba: the float64 whose bits are the int64 i."""
        import numpy as np
        return float(np.int64(i).view(np.float64))

    def float64_to_bits(x):
        """Without numba: the int64 holding the bits of the float64 x."""
        import numpy as np
        return int(np.float64(x).view(np.int64))
