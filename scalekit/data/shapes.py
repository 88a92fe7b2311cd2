"""Parameter and FLOP counts from a transformer's shape, in the conventions the scaling-law papers use.

A :class:`Shape` is what a model card gives: layers, width, heads (and key/value heads), vocabulary,
sequence length, feed-forward width, a gated MLP, experts, tied embeddings, biases and norms. From it:

* :func:`count_params`: embedding, output head, non-embedding and total parameters, and the active ones
  of a mixture of experts;
* :func:`model_size`: N as a paper counts it. ``kaplan``: non-embedding parameters (Kaplan et al. 2020);
  ``porian``: non-embedding plus the output head (Porian et al. 2024 show that leaving the last layer out
  is one cause of Kaplan's and Hoffmann's disagreement; OLMo's ladder counts N this way); ``hoffmann``:
  every parameter, embeddings included;
* :func:`flops_per_token`: training FLOPs per token (forward and backward, 3x the forward pass):
  ``kaplan`` 6 N + 6 L T d_attn (eq. 2.2), ``porian`` the same with the head in N, ``hoffmann`` the
  itemised count of Hoffmann et al. 2022, Appendix F (embeddings, QKV, logits, softmax, dense, output);
  ``attention=False`` drops the terms in the sequence length;
* :func:`shapes_for`: shapes near a target N, for a plan that must name what to train.

Examples
--------
>>> pythia_70m = Shape(layers=6, d_model=512, heads=8, vocab=50304, bias=True, norm_params=2)
>>> p = count_params(pythia_70m)
>>> p.total, p.non_embedding
(70426624, 18915328)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..exceptions import BatchValidationError, ConfigError

__all__ = ["CONVENTIONS", "SHAPE_PARAMS", "ParamCount", "Shape", "count_params", "flops_per_token", "model_size",
           "params_from_shape", "shapes_for"]

CONVENTIONS = ("kaplan", "porian", "hoffmann")


@dataclass(frozen=True)
class Shape:
    """A decoder-only transformer's shape.

    ``d_ff`` defaults to 4 d_model; ``kv_heads`` to ``heads`` (multi-head attention; fewer is grouped-query
    attention); ``glu`` makes the MLP three matrices (SwiGLU, GeGLU); ``experts`` > 1 copies the MLP, of
    which ``top_k`` run per token. ``norm_params`` is 2 for LayerNorm (weight and bias), 1 for RMSNorm, 0 for
    a norm without parameters; ``qk_norm`` adds query and key norms to each layer (OLMo 2).
    """

    layers: int
    d_model: int
    heads: int
    vocab: int
    seq_len: int = 2048
    d_ff: int | None = None
    kv_heads: int | None = None
    glu: bool = False
    experts: int = 1
    top_k: int = 1
    tied_embeddings: bool = False
    bias: bool = False
    norm_params: int = 1
    qk_norm: bool = False
    final_norm: bool = True

    def __post_init__(self) -> None:
        for name in ("layers", "d_model", "heads", "vocab", "seq_len", "experts", "top_k"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"shape {name}: got {v!r}; expected a whole number >= 1", key=name)
        if self.d_model % self.heads:
            raise ConfigError(f"shape heads: d_model {self.d_model} is not a multiple of heads {self.heads}", key="heads")
        kv = self.kv_heads if self.kv_heads is not None else self.heads
        if kv < 1 or self.heads % kv:
            raise ConfigError(f"shape kv_heads: got {kv}; expected a divisor of heads ({self.heads})", key="kv_heads")
        if self.top_k > self.experts:
            raise ConfigError(f"shape top_k: {self.top_k} experts per token of {self.experts}", key="top_k")
        if self.norm_params not in (0, 1, 2):
            raise ConfigError(f"shape norm_params: got {self.norm_params}; expected 0, 1 or 2", key="norm_params")

    @property
    def ff(self) -> int:
        return self.d_ff if self.d_ff is not None else 4 * self.d_model

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values): head dimension times key/value heads."""
        return (self.d_model // self.heads) * (self.kv_heads if self.kv_heads is not None else self.heads)


@dataclass(frozen=True)
class ParamCount:
    """Parameters by part. ``non_embedding`` is the layers and the final norm; ``active`` what one token uses."""

    embedding: int
    head: int
    non_embedding: int
    total: int
    active: int
    active_non_embedding: int


def _layer(s: Shape, experts: int) -> int:
    d, kv, ff = s.d_model, s.kv_dim, s.ff
    attn = d * d + 2 * d * kv + d * d  # q, k, v, o
    mlp = (3 if s.glu else 2) * d * ff
    if s.bias:
        attn += d + 2 * kv + d
        mlp += (2 * ff if s.glu else ff) + d
    router = d * s.experts if s.experts > 1 else 0
    norms = 2 * s.norm_params * d + (s.norm_params * (d + kv) if s.qk_norm else 0)
    return attn + experts * mlp + router + norms


def count_params(shape: Shape) -> ParamCount:
    """Every parameter of ``shape`` by part (see :class:`ParamCount`)."""
    s = shape
    emb = s.vocab * s.d_model
    head = 0 if s.tied_embeddings else s.vocab * s.d_model
    final = s.norm_params * s.d_model if s.final_norm else 0
    body = s.layers * _layer(s, s.experts) + final
    active_body = s.layers * _layer(s, s.top_k) + final
    return ParamCount(embedding=emb, head=head, non_embedding=body, total=emb + head + body,
                      active=emb + head + active_body, active_non_embedding=active_body)


def _check(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ConfigError(f"convention: got {convention!r}; expected one of {', '.join(CONVENTIONS)}", key="convention")


def model_size(shape: Shape, convention: str = "porian", *, active: bool = True) -> int:
    """N as ``convention`` counts it (see the module docstring); the active parameters of an MoE by default.

    >>> olmo_190m = Shape(layers=12, d_model=768, heads=12, vocab=100352, glu=True, qk_norm=True)
    >>> model_size(olmo_190m, "porian")  # OLMo's ladder: 190,354,176
    190354176
    """
    _check(convention)
    p = count_params(shape)
    body = p.active_non_embedding if active else p.non_embedding
    head = p.head if p.head else p.embedding  # a tied head still multiplies by the vocabulary matrix
    if convention == "kaplan":
        return body
    if convention == "porian":
        return body + head
    return body + p.embedding + p.head


def flops_per_token(shape: Shape, convention: str = "porian", *, attention: bool = True) -> float:
    """Training FLOPs per token (forward and backward) as ``convention`` counts them."""
    _check(convention)
    s = shape
    T = s.seq_len
    if convention in ("kaplan", "porian"):
        n = model_size(s, convention)
        return 6.0 * n + (6.0 * s.layers * T * s.d_model if attention else 0.0)
    # Hoffmann et al. 2022, Appendix F, per token (their counts per sequence divided by T); backward = 2x forward.
    d, kv, ff, h = s.d_model, s.kv_dim, s.ff, s.heads
    attn_dim = d  # query heads x head dimension
    per_layer = 2 * d * (attn_dim + 2 * kv) + 2 * attn_dim * d  # QKV projections and the final linear
    per_layer += (3 if s.glu else 2) * 2 * d * ff * s.top_k  # dense block(s)
    if attention:
        per_layer += 2 * T * attn_dim + 3 * h * T + 2 * T * attn_dim  # K @ Q logits, softmax, softmax @ V
    forward = 2 * s.vocab * d + s.layers * per_layer + 2 * d * s.vocab  # embeddings, layers, output logits
    return 3.0 * forward


def shapes_for(target: float, *, convention: str = "porian", template: Shape | None = None, aspect: tuple[float, float] = (32, 256),
               multiple: int = 128, head_dim: int = 128, tolerance: float = 0.05, most: int = 5) -> list[Shape]:
    """Shapes whose N (as ``convention`` counts it) lies within ``tolerance`` of ``target``.

    Widths are multiples of ``multiple``; d_model / layers stays within ``aspect`` (Kaplan et al. found the
    loss nearly flat over that range at fixed N); heads follow ``head_dim``. Other fields come from
    ``template``. Sorted by distance to the target.

    >>> [(s.layers, s.d_model) for s in shapes_for(1.3e9, template=Shape(1, 128, 1, 50304), most=2)]
    [(21, 2176), (43, 1536)]
    """
    _check(convention)
    if not (math.isfinite(target) and target > 0):
        raise ConfigError(f"target N: got {target!r}; expected a positive number", key="target")
    base = template or Shape(layers=1, d_model=multiple, heads=1, vocab=50304)
    ratio = base.heads // (base.kv_heads or base.heads)  # queries per key/value head, kept
    found: list[tuple[float, float, Shape]] = []
    for d in range(multiple, 65536 + 1, multiple):
        lo, hi = max(1, math.ceil(d / aspect[1])), max(1, math.floor(d / aspect[0]))
        heads = max(1, d // head_dim) if d % head_dim == 0 else 1
        kv_heads = heads // ratio if ratio > 1 and heads % ratio == 0 else None
        for L in range(lo, hi + 1):
            s = replace(base, layers=L, d_model=d, heads=heads, kv_heads=kv_heads,
                        d_ff=None if base.d_ff is None else round(base.d_ff / base.d_model * d))
            n = model_size(s, convention)
            err = abs(n - target) / target
            if err <= tolerance:
                found.append((err, abs(math.log2((d / L) / 90.0)), s))
        if model_size(replace(base, layers=max(1, math.ceil(d / aspect[1])), d_model=d, heads=1, kv_heads=None,
                              d_ff=None if base.d_ff is None else round(base.d_ff / base.d_model * d)), convention) > target * (1 + tolerance):
            break
    found.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in found[:most]]


SHAPE_PARAMS = "params (from the model shape)"
_SHAPE_COLUMNS = {
    "layers": ("layers", "n_layers", "num_layers", "n_layer", "depth", "num_hidden_layers"),
    "d_model": ("d_model", "width", "hidden_size", "n_embd", "dim", "model_dim"),
    "heads": ("heads", "n_heads", "num_heads", "num_attention_heads", "n_head"),
    "vocab": ("vocab", "vocab_size", "n_vocab"),
    "d_ff": ("d_ff", "ffn_dim", "intermediate_size", "ffn_hidden_size"),
    "experts": ("experts", "num_experts", "n_experts"),
    "top_k": ("top_k", "topk", "experts_per_token"),
}


def params_from_shape(raw: pd.DataFrame, src: str) -> tuple[pd.DataFrame, str] | None:
    """N for each row from shape columns (layers and width; heads, vocabulary, d_ff, experts if given), or None.

    With a vocabulary column N is counted as Porian et al. do (non-embedding parameters plus the output head),
    without one as Kaplan et al. do (non-embedding only). The input table is not changed: a copy gains the column.
    """
    lower = {str(c).lower(): str(c) for c in raw.columns}
    found = {k: next((lower[a] for a in names if a in lower), None) for k, names in _SHAPE_COLUMNS.items()}
    if found["layers"] is None or found["d_model"] is None:
        return None
    vals: dict[str, np.ndarray] = {}
    for k, c in found.items():
        if c is None:
            continue
        v = pd.to_numeric(raw[c], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(v) | (v < 1) | (v != np.round(v)))
        if bad.size:
            raise BatchValidationError(src, f"model shape column {c!r} holds {raw[c].iloc[int(bad[0])]!r}", column=c,
                                       rows=[int(i) + 2 for i in bad], expected="whole numbers >= 1")
        vals[k] = v.astype(int)
    convention = "porian" if "vocab" in vals else "kaplan"
    keys = ("layers", "d_model", "heads", "vocab", "d_ff", "experts", "top_k")
    table = np.column_stack([vals[k] if k in vals else np.zeros(len(raw), dtype=int) for k in keys])
    uniq, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    sizes = np.empty(len(uniq))
    for j, (row, i) in enumerate(zip(uniq, first)):  # one count per distinct shape, not per row (checkpoints repeat it)
        L, d, h, V, ff, E, top = (int(x) for x in row)
        try:
            shape = Shape(layers=L, d_model=d, heads=h or (d // 64 if d % 64 == 0 else 1), vocab=V or 1, d_ff=ff or None,
                          experts=E or 1, top_k=top or 1)
        except ConfigError as exc:
            raise BatchValidationError(src, f"row {int(i) + 2}: not a model shape ({exc.message})", column=found["d_model"],
                                       rows=[int(i) + 2], expected="a transformer shape") from None
        sizes[j] = model_size(shape, convention)
    N = sizes[np.ravel(inverse)]
    out = raw.copy()
    out[SHAPE_PARAMS] = N
    used = " x ".join(c for c in (found["layers"], found["d_model"]) if c)
    what = "non-embedding parameters plus the output head" if convention == "porian" else "non-embedding parameters"
    return out, (f"N computed from the model shape ({used}{', ' + found['vocab'] if found['vocab'] else ''}) as {what} "
                 f"({convention} convention; an MoE's active parameters).")
