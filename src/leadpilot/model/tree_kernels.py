"""LightGBM trees walked by a compiled loop (numba): the router's few rows per lead without a
call into LightGBM.

Each call of LightGBM's C API for a few rows sets up a predictor (~20-50 us); the router
makes one per lead (the rows whose response time moved and the average rep), and with rep
trees one per rep present. :func:`compiled` reads a booster's own arrays from its model text
(thresholds, decision types, children, leaf values and categorical bitsets, written by
LightGBM at full precision) once per booster and :func:`raw_scores` walks them as LightGBM's
``Tree::Predict`` does: the same decisions (missing values by the split's missing type and
default direction, values within 1e-35 of zero read as zero, categories by bitset) and the
leaf values added tree after tree from 0.0, as ``GBDT::PredictRaw`` adds them, so each row
gets LightGBM's bits (``tests/model/test_tree_kernels.py`` checks them against ``predict``).
A booster this module does not read (linear trees, several outputs per iteration), or a
process that has not loaded numba (see :mod:`leadpilot.model.glm_kernels`: a process that
scored a batch has), gets ``None`` from :func:`compiled`, and the caller keeps LightGBM.

Not lleaves or treelite: both compile a model to a shared library (minutes for 100 rep
boosters, and a C compiler at run time) and add the trees in their own order (~1e-12 off,
not the same bits); here the trees are data, so loading a model costs milliseconds.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from leadpilot.model import glm_kernels

__all__ = ["CompiledTrees", "compiled", "raw_scores"]

NDF = NDArray[np.float64]

# LightGBM's kZeroThreshold (a float literal, ``1e-35f``, compared as a double)
_ZERO = float(np.float32(1e-35))
_CATEGORICAL, _DEFAULT_LEFT = 1, 2  # decision_type bits (tree.h)
_MISSING_ZERO, _MISSING_NAN = 1, 2  # (decision_type >> 2) & 3
_ATTR = "_leadpilot_compiled_trees"
_UNREAD = object()


class CompiledTrees:
    """One booster's trees as flat arrays: internal nodes of every tree side by side (a
    child ``c < 0`` is leaf ``~c`` of the same tree), each tree's first node and leaf."""

    def __init__(self, trees: list[dict[str, Any]], n_features: int) -> None:
        feat: list[int] = []
        kind: list[int] = []
        left: list[int] = []
        right: list[int] = []
        thr: list[float] = []
        leaf: list[float] = []
        cat_off: list[int] = []
        cat_len: list[int] = []
        bits: list[int] = []
        roots: list[int] = []
        leaf_base: list[int] = []
        for tree in trees:
            base_node, base_leaf = len(feat), len(leaf)
            roots.append(base_node if tree["num_leaves"] > 1 else -1)
            leaf_base.append(base_leaf)
            leaf.extend(tree["leaf_value"])
            if tree["num_leaves"] == 1:
                continue
            for i, d in enumerate(tree["decision_type"]):
                feat.append(tree["split_feature"][i])
                kind.append(d)
                # children: internal nodes shifted to the flat index, leaves kept as ~leaf
                lc, rc = tree["left_child"][i], tree["right_child"][i]
                left.append(lc + base_node if lc >= 0 else lc)
                right.append(rc + base_node if rc >= 0 else rc)
                if d & _CATEGORICAL:
                    k = int(tree["threshold"][i])
                    lo, hi = tree["cat_boundaries"][k], tree["cat_boundaries"][k + 1]
                    cat_off.append(len(bits))
                    cat_len.append(hi - lo)
                    bits.extend(tree["cat_threshold"][lo:hi])
                    thr.append(0.0)
                else:
                    cat_off.append(0)
                    cat_len.append(0)
                    thr.append(tree["threshold"][i])
        self.n_features = n_features
        self.roots = np.array(roots, dtype=np.int64)
        self.leaf_base = np.array(leaf_base, dtype=np.int64)
        self.feat = np.array(feat, dtype=np.int64)
        self.thr = np.array(thr, dtype=np.float64)
        self.kind = np.array(kind, dtype=np.int64)
        self.left = np.array(left, dtype=np.int64)
        self.right = np.array(right, dtype=np.int64)
        self.leaf = np.array(leaf, dtype=np.float64)
        self.cat_off = np.array(cat_off, dtype=np.int64)
        self.cat_len = np.array(cat_len, dtype=np.int64)
        self.bits = np.array(bits, dtype=np.uint32)

    def raw_scores(self, X: NDF) -> NDF:
        """Each row's raw score (the sum of its leaves)."""
        out = np.empty(X.shape[0])
        glm_kernels.kernel("walk")(
            np.ascontiguousarray(X, dtype=np.float64),
            self.roots,
            self.leaf_base,
            self.feat,
            self.thr,
            self.kind,
            self.left,
            self.right,
            self.leaf,
            self.cat_off,
            self.cat_len,
            self.bits,
            out,
        )
        return out


def _walk(
    X: NDF,
    roots: Any,
    leaf_base: Any,
    feat: Any,
    thr: NDF,
    kind: Any,
    left: Any,
    right: Any,
    leaf: NDF,
    cat_off: Any,
    cat_len: Any,
    bits: Any,
    out: NDF,
) -> None:  # compiled by ``glm_kernels`` (registered below) (LightGBM's predict is the reference)
    for r in range(X.shape[0]):
        acc = 0.0
        for t in range(roots.shape[0]):
            node = roots[t]
            if node < 0:  # a one-leaf tree
                acc += leaf[leaf_base[t]]
                continue
            while node >= 0:
                fval = X[r, feat[node]]
                # LightGBM's dense rows keep only values beyond 1e-35 (or NaN): the rest is 0
                if not (abs(fval) > _ZERO or np.isnan(fval)):
                    fval = 0.0
                d = kind[node]
                if d & _CATEGORICAL:
                    go_left = False
                    if not np.isnan(fval):
                        c = int(fval)
                        if c >= 0:
                            w = c >> 5
                            if w < cat_len[node]:
                                go_left = ((bits[cat_off[node] + w] >> (c & 31)) & 1) == 1
                else:
                    missing = (d >> 2) & 3
                    if np.isnan(fval) and missing != _MISSING_NAN:
                        fval = 0.0
                    if (missing == _MISSING_ZERO and -_ZERO <= fval <= _ZERO) or (
                        missing == _MISSING_NAN and np.isnan(fval)
                    ):
                        go_left = (d & _DEFAULT_LEFT) != 0
                    else:
                        go_left = fval <= thr[node]
                node = left[node] if go_left else right[node]
            acc += leaf[leaf_base[t] + ~node]
        out[r] = acc


def _parse(text: str, num_iteration: int) -> tuple[list[dict[str, Any]], int] | None:
    """The trees of a LightGBM model text (the first ``num_iteration`` when > 0) and its
    number of features, or ``None`` for a model this module does not walk."""
    head, found, rest = text.partition("\nTree=")
    if not found:
        return None
    meta = dict(line.split("=", 1) for line in head.split("\n") if "=" in line)
    if meta.get("num_tree_per_iteration", "1") != "1":
        return None
    n_features = int(meta.get("max_feature_idx", "-1")) + 1
    trees = []
    for block in ("Tree=" + rest).partition("\nend of trees")[0].split("\nTree=")[0:]:
        fields = dict(line.split("=", 1) for line in block.split("\n") if "=" in line)
        if fields.get("is_linear", "0") != "0":
            return None
        n_leaves = int(fields["num_leaves"])
        tree: dict[str, Any] = {
            "num_leaves": n_leaves,
            "leaf_value": [float(v) for v in fields["leaf_value"].split()],
        }
        if n_leaves > 1:
            for key in ("split_feature", "decision_type", "left_child", "right_child"):
                tree[key] = [int(v) for v in fields[key].split()]
            tree["threshold"] = [float(v) for v in fields["threshold"].split()]
            if int(fields.get("num_cat", "0")) > 0:
                tree["cat_boundaries"] = [int(v) for v in fields["cat_boundaries"].split()]
                tree["cat_threshold"] = [int(v) for v in fields["cat_threshold"].split()]
        trees.append(tree)
    if num_iteration > 0:
        trees = trees[:num_iteration]
    return trees, n_features


def compiled(booster: Any) -> CompiledTrees | None:
    """``booster``'s trees for :func:`raw_scores` (read once and kept on the booster, whose
    trees do not change after training), or ``None`` (numba not loaded, see
    ``glm_kernels.kernel``, or a model this module does not walk: LightGBM then scores it)."""
    if glm_kernels.kernel("walk") is None:
        return None
    found: Any = getattr(booster, _ATTR, _UNREAD)
    if found is not _UNREAD:
        return cast("CompiledTrees | None", found)
    parsed = _parse(booster.model_to_string(), int(getattr(booster, "best_iteration", 0) or 0))
    trees = CompiledTrees(*parsed) if parsed is not None else None
    with contextlib.suppress(AttributeError):  # a booster type with slots: read each time
        setattr(booster, _ATTR, trees)
    return trees


def raw_scores(trees: CompiledTrees, X: NDF) -> NDF:
    """``booster.predict(X, raw_score=True)`` of the booster ``trees`` was read from."""
    if X.ndim != 2 or X.shape[1] < trees.n_features:
        raise ValueError(f"rows have {X.shape[1]} features, the trees read {trees.n_features}")
    return trees.raw_scores(X)


glm_kernels.register("walk", _walk)
