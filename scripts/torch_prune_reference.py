#!/usr/bin/python3
"""Write PyTorch's pruning masks as test vectors for package prune.

Run with Debian's python3 (apt-get install python3-torch), from the
repository root:

    /usr/bin/python3 scripts/torch_prune_reference.py

It writes prune/testdata/torch/{unstructured,structured,global}.json, read
by prune/torch_test.go, which checks that the Go pruners give the same masks
bit for bit.

The weights are float32, drawn with fixed seeds, with no two equal |w| and
no two slice norms (L1 or L2, along any dim) closer than a relative 1e-4, so
that the ranking does not depend on rounding or on how ties are broken.

Each case applies a sequence of torch.nn.utils.prune calls to the same
tensors (a PruningContainer from the second call on) and records the mask
after every call. Amounts are floats (a fraction of what is still unpruned,
rounded half to even by Python's round) or ints (a count).
"""

import itertools
import json
import os
import sys

import torch
import torch.nn.utils.prune as prune

OUT = os.path.join("prune", "testdata", "torch")

SHAPES = {
    "fc1": [20, 30],
    "fc2": [7, 5],
    "conv1": [6, 3, 5, 5],
    "conv2": [4, 2, 3, 3],
}

MIN_GAP = 1e-4


def gaps_ok(values):
    v = sorted(float(x) for x in values)
    return all(b - a > MIN_GAP * max(abs(a), abs(b), 1e-12) for a, b in zip(v, v[1:]))


def slice_norms(t, n, dim):
    dims = [d for d in range(t.dim()) if d != dim]
    return torch.norm(t.double(), p=n, dim=dims).tolist()


def make_weights():
    """One tensor per shape; a later seed where an earlier one has near ties."""
    tensors = {}
    for i, (name, shape) in enumerate(SHAPES.items()):
        for attempt in itertools.count():
            g = torch.Generator().manual_seed(1000 * i + attempt)
            w = torch.randn(shape, generator=g, dtype=torch.float32)
            ok = gaps_ok(w.abs().flatten().tolist())
            for dim in range(len(shape)):
                for n in (1, 2):
                    ok = ok and gaps_ok(slice_norms(w, n, dim))
            if ok:
                tensors[name] = w
                break
    # Global ranking needs distinct |w| across all tensors.
    allabs = torch.cat([t.abs().flatten() for t in tensors.values()]).tolist()
    if len(set(allabs)) != len(allabs):
        sys.exit("equal |w| across tensors: pick other seeds")
    return tensors


def module_of(w):
    m = torch.nn.Module()
    m.weight = torch.nn.Parameter(w.clone())
    return m


def amount_of(step):
    return step["count"] if "count" in step else step["fraction"]


def mask_list(m):
    return [int(x) for x in m.weight_mask.flatten().tolist()]


def run_case(tensors, names, steps):
    """Apply steps to fresh modules holding tensors[names]; masks after each."""
    mods = [module_of(tensors[n]) for n in names]
    out = []
    for step in steps:
        op = step["op"]
        if op == "l1_unstructured":
            prune.l1_unstructured(mods[0], "weight", amount=amount_of(step))
        elif op == "ln_structured":
            m = mods[0]
            if hasattr(m, "weight_mask"):
                # The norms torch ranks are those of the masked weights over
                # the slices that still keep something: check they do not tie.
                masked = m.weight_orig.detach() * m.weight_mask
                dim = step["dim"]
                alive = m.weight_mask.sum(dim=[d for d in range(masked.dim()) if d != dim]) != 0
                norms = [x for x, a in zip(slice_norms(masked, step["n"], dim), alive.tolist()) if a]
                if not gaps_ok(norms):
                    return None
            prune.ln_structured(m, "weight", amount=amount_of(step), n=step["n"], dim=step["dim"])
        elif op == "global_unstructured":
            prune.global_unstructured(
                [(m, "weight") for m in mods],
                pruning_method=prune.L1Unstructured,
                amount=amount_of(step),
            )
        else:
            raise ValueError(op)
        out.append([mask_list(m) for m in mods])
    return out


def amount_sequences():
    return [
        [{"fraction": 0.2}],
        [{"fraction": 0.3}, {"fraction": 0.3}],
        [{"fraction": 0.5}, {"fraction": 0.33}, {"fraction": 0.5}],
        [{"count": 1}, {"count": 2}, {"count": 1}],
        [{"fraction": 0.2}, {"count": 1}, {"fraction": 0.25}],
    ]


def main():
    tensors = make_weights()
    unstructured, structured, global_ = [], [], []

    for name in SHAPES:
        for seq in amount_sequences() + [[{"count": 7}, {"fraction": 0.5}, {"count": 3}]]:
            steps = [dict(op="l1_unstructured", **a) for a in seq]
            unstructured.append({"tensors": [name], "steps": steps, "masks": run_case(tensors, [name], steps)})

    for name, shape in SHAPES.items():
        for dim in range(len(shape)):
            for n in (1, 2):
                for seq in amount_sequences():
                    steps = [dict(op="ln_structured", n=n, dim=dim, **a) for a in seq]
                    # A count may exceed the slices left: keep what torch accepts.
                    left, ok = shape[dim], True
                    for a in seq:
                        k = a["count"] if "count" in a else round(a["fraction"] * left)
                        ok = ok and k <= left
                        left -= k
                    if not ok:
                        continue
                    masks = run_case(tensors, [name], steps)
                    if masks is not None:
                        structured.append({"tensors": [name], "steps": steps, "masks": masks})
        # Unstructured first, then structured: the norms of partly pruned
        # slices count only their kept weights.
        for dim in range(len(shape)):
            steps = [
                {"op": "l1_unstructured", "fraction": 0.5},
                {"op": "ln_structured", "n": 1 + dim % 2, "dim": dim, "fraction": 0.4},
                {"op": "l1_unstructured", "fraction": 0.3},
                {"op": "ln_structured", "n": 2 - dim % 2, "dim": dim, "count": 1},
            ]
            masks = run_case(tensors, [name], steps)
            if masks is not None:
                structured.append({"tensors": [name], "steps": steps, "masks": masks})

    names = list(SHAPES)
    for seq in amount_sequences() + [[{"count": 100}, {"fraction": 0.9}]]:
        steps = [dict(op="global_unstructured", **a) for a in seq]
        global_.append({"tensors": names, "steps": steps, "masks": run_case(tensors, names, steps)})
    steps = [dict(op="global_unstructured", fraction=0.2)] * 3
    global_.append({"tensors": ["fc1", "conv2"], "steps": steps, "masks": run_case(tensors, ["fc1", "conv2"], steps)})

    weights = {n: {"shape": SHAPES[n], "weights": t.flatten().tolist()} for n, t in tensors.items()}
    os.makedirs(OUT, exist_ok=True)
    for fname, cases in (("unstructured", unstructured), ("structured", structured), ("global", global_)):
        doc = {
            "generator": "scripts/torch_prune_reference.py",
            "torch": torch.__version__,
            "tensors": weights,
            "cases": cases,
        }
        path = os.path.join(OUT, fname + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
