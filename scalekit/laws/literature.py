"""The literature's laws for settings beyond N and D: experts, vocabulary, learning rate and batch size,
data mixtures, fine-tuning, parallel streams, precision, sparsity and distillation.

Each is a :class:`Published` form: a formula read by the safe parser (:mod:`scalekit.expr`), fitted like every
form by the one core on log residuals with symbolic derivatives, and registered by name in
:data:`scalekit.laws.forms.FORMS`. Beyond a user's :class:`~scalekit.laws.formula.Law` it carries its reference,
what each parameter means, starting grids for its non-linear parameters, and how its parameters carry the
data's units (``units``: each parameter's value once the variables named in ``centred`` are multiplied by
``exp(dx)`` and the metric by ``exp(y)``), so the solver fits it on centred data and the fit is the same in any
units. Variables are by role (N, D, E, G, S, V, P, bits, lr, B, T; mixture proportions r1, r2, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..expr import evaluate, names, parse
from .formula import Law
from .general import FloatArray
from .library import LibraryForm

__all__ = ["BUSBRIDGE_SUPERVISED", "LITERATURE", "Published", "distillation_law"]


class Published(Law, LibraryForm):
    """A law from the literature, written as a formula, with its reference and units.

    Parameters
    ----------
    name, formula, variables
        As for :class:`~scalekit.laws.formula.Law`.
    reference : str
        Paper and equation.
    role : str
        What the law is for, in one line (``scalekit.forms()`` and reports show it).
    meanings : mapping
        Parameter -> what it means.
    centred : sequence of str
        The variables (and ``"y"``, the metric) whose scale the fit may move: the solver centres their logs.
    units : mapping
        Parameter -> its value after that move, a formula in the parameters, the variables' log shifts (by the
        variable's name) and ``y`` (the metric's log shift). Parameters not named do not change.
    axes : mapping, optional
        Starting values (on the centred data) for non-linear parameters, replacing the default grid.
    zero_ok : sequence of str
        Variables for which 0 is a value (sparsity, mixture proportions): kept, never centred.
    signed : sequence of str
        Non-linear parameters that may take either sign although no exponent holds them (slopes of log lr*
        against log N): fitted as they are, not as logarithms of positive scales.
    """

    def __init__(self, name: str, formula: str, variables: Sequence[str], *, reference: str, role: str,
                 meanings: Mapping[str, str], centred: Sequence[str], units: Mapping[str, str],
                 axes: Mapping[str, Sequence[float]] | None = None, zero_ok: Sequence[str] = (),
                 signed: Sequence[str] = ()) -> None:
        super().__init__(formula, variables=variables, name=name)
        self.log_params = tuple(i for i in self.log_params if self.param_names[i] not in signed)
        self.internal_names = tuple(f"log_{p}" if i in self.log_params else p for i, p in enumerate(self.param_names))
        self.reference = reference
        self.role = role
        self.meanings = dict(meanings)
        self.centred = tuple(centred)
        self.zero_ok = tuple(zero_ok)
        self.metric_scale = "y" in self.centred
        self.units = {p: parse(text) for p, text in units.items()}
        self.axes = {p: tuple(float(v) for v in vs) for p, vs in (axes or {}).items()}
        known = set(self.param_names) | set(self.variables) | {"y"}
        for p, tree in self.units.items():
            bad = set(names(tree)) - known
            if p not in self.param_names or bad:
                raise ValueError(f"{name}: units of {p!r} name {sorted(bad)} (not parameters or variables)")
        if set(self.meanings) != set(self.param_names):
            raise ValueError(f"{name}: meanings must cover exactly {self.param_names}")
        if set(self.zero_ok) & set(self.centred) or not set(self.centred) <= set(self.variables) | {"y"}:
            raise ValueError(f"{name}: centred variables must be variables of the law that cannot be zero")

    def start_axes(self, logx: FloatArray) -> list[list[float]]:
        default = super().start_axes(logx)
        other = [p for p in self.param_names if p not in self.linear_params()]
        return [list(self.axes.get(p, d)) for p, d in zip(other, default)]

    def centre(self, logx: FloatArray) -> FloatArray:
        out = np.zeros(logx.shape[1])
        for j, v in enumerate(self.variables):
            if v in self.centred:
                out[j] = 0.5 * (logx[:, j].min() + logx[:, j].max())
        return out

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        moved = [v for j, v in enumerate(self.variables) if dx[j] != 0 and v not in self.centred]
        if moved or (dy != 0 and not self.metric_scale):
            raise ValueError(f"{self.name}: parameters do not carry the units of {moved or ['the metric']}")
        nat = self.natural(np.asarray(theta, dtype=float))
        env: dict[str, FloatArray | float] = {v: float(dx[j]) for j, v in enumerate(self.variables)}
        env["y"] = float(dy)
        env.update((p, nat[..., i]) for i, p in enumerate(self.param_names))
        out = np.array(nat, dtype=float, copy=True)
        with np.errstate(all="ignore"):
            for p, tree in self.units.items():
                out[..., self.param_names.index(p)] = evaluate(tree, env)
            for i in self.log_params:
                out[..., i] = np.log(out[..., i])
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Published) and self.name == other.name and self.text == other.text

    def __hash__(self) -> int:
        return hash((self.name, self.text))


# Busbridge et al. 2025's supervised fit (on C4): the student's own loss, from which the capacity gap is measured
BUSBRIDGE_SUPERVISED = {"E": 1.220, "A": 3355.0, "alpha": 0.408, "B": 18186.0, "beta": 0.431, "gamma": 0.452}


def distillation_law(supervised: Mapping[str, float] = BUSBRIDGE_SUPERVISED, name: str = "distillation") -> Published:
    """Busbridge et al. 2025's distillation law, with the student's supervised loss
    L~_S = E + (A/N^alpha + B/D^beta)^gamma given by ``supervised`` (fitted beforehand on supervised runs; by default
    their own fit on C4): student loss = L_T + L_T^-c0 (1 + (L_T / (d1 L~_S))^(1/f1))^(-c1 f1) (A'/N^alpha' + B'/D^beta')^gamma'.
    """
    s = {k: float(supervised[k]) for k in ("E", "A", "alpha", "B", "beta", "gamma")}
    student = f"({s['E']:.6g} + ({s['A']:.6g}*N^-{s['alpha']:.6g} + {s['B']:.6g}*D^-{s['beta']:.6g})^{s['gamma']:.6g})"
    return Published(
        name, f"T + T^-c0 * (1 + (T/(d1*{student}))^(1/f1))^(-c1*f1) * (A_p*N^-alpha_p + B_p*D^-beta_p)^gamma_p",
        ("T", "N", "D"),
        reference="Busbridge et al. 2025, Distillation scaling laws",
        role="distillation: student loss from the teacher's loss T, student parameters N and distillation tokens D",
        meanings={"c0": "exponent of the teacher's loss", "c1": "slope of the capacity gap beyond the break",
                  "f1": "sharpness of the break", "d1": "teacher-to-student loss ratio at the break",
                  "A_p": "N coefficient of the distillation term", "alpha_p": "exponent of N",
                  "B_p": "D coefficient of the distillation term", "beta_p": "exponent of D",
                  "gamma_p": "outer exponent of the distillation term"},
        centred=(),  # the supervised law inside is in the data's own units: nothing is moved
        units={},
        axes={"c0": (1.0, 2.5), "c1": (0.2, 1.0), "f1": (0.5, 1.5), "d1": (0.8, 1.5), "A_p": (300.0, 3000.0),
              "alpha_p": (0.3, 0.5), "B_p": (3000.0, 30000.0), "beta_p": (0.3, 0.5), "gamma_p": (0.3, 0.6)})


# Saturating expert count of Clark et al. 2022: 1/Ê = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max.
_E_HAT = "(1/(1/(E - 1 + 1/(1/E_start - 1/E_max)) + 1/E_max))"
_EXP = (0.1, 0.3, 0.6)

LITERATURE: tuple[Published, ...] = (
    Published(
        "routed_moe", f"exp(d) * (N/1e9)^a * {_E_HAT}^(b + c*log(N/1e9))", ("N", "E"),
        reference="Clark et al. 2022, Unified scaling laws for routed language models",
        role="mixture of experts: loss in dense parameters N and expert count E, gains from experts saturating",
        meanings={"d": "log loss of a dense model of 1e9 parameters", "a": "exponent of N (negative)",
                  "b": "exponent of the effective expert count at N = 1e9 (negative)",
                  "c": "interaction: how the expert exponent changes with log N",
                  "E_start": "effective expert count of a dense model (where saturation starts)",
                  "E_max": "expert count beyond which more experts stop helping"},
        centred=("y",), units={"d": "d + y"},
        axes={"d": (-0.5, 0.0, 0.5), "a": (-0.2, -0.05), "b": (-0.3, -0.1, -0.02), "c": (-0.02, 0.0, 0.02),
              "E_start": (1.2, 2.0, 5.0), "E_max": (30.0, 300.0, 3000.0)}),
    Published(
        "moe_granularity", "c + (g*G^-gamma + a)*N^-alpha + b*D^-beta", ("N", "D", "G"),
        reference="Krajewski, Ludziejewski et al. 2024, Scaling laws for fine-grained mixture of experts",
        role="mixture of experts: loss in parameters N, tokens D and granularity G (expert size)",
        meanings={"c": "irreducible loss", "g": "part of the N coefficient that granularity removes",
                  "gamma": "exponent of G", "a": "N coefficient at infinite granularity", "alpha": "exponent of N",
                  "b": "D coefficient", "beta": "exponent of D"},
        centred=("N", "D", "y"),
        units={"c": "c*exp(y)", "g": "g*exp(y + alpha*N)", "a": "a*exp(y + alpha*N)", "b": "b*exp(y + beta*D)"},
        axes={"gamma": (0.2, 0.5, 1.0), "alpha": _EXP, "beta": _EXP}),
    Published(
        "moe_sparsity", "a*N^-alpha + b*D^-beta + c*(1 - S)^lambda + d*(1 - S)^delta*N^-gamma + e", ("N", "D", "S"),
        reference="Abnar et al. 2025, Parameters vs FLOPs: scaling laws for optimal sparsity for MoE language models",
        role="mixture of experts: loss in total parameters N, tokens D and sparsity S (inactive fraction)",
        meanings={"a": "N coefficient", "alpha": "exponent of N", "b": "D coefficient", "beta": "exponent of D",
                  "c": "coefficient of the sparsity term", "lambda": "exponent of active fraction 1 - S",
                  "d": "coefficient of the sparsity-N interaction", "delta": "exponent of 1 - S in the interaction",
                  "gamma": "exponent of N in the interaction", "e": "irreducible loss"},
        centred=("N", "D", "y"), zero_ok=("S",),
        units={"a": "a*exp(y + alpha*N)", "b": "b*exp(y + beta*D)", "c": "c*exp(y)", "d": "d*exp(y + gamma*N)",
               "e": "e*exp(y)"},
        axes={"alpha": _EXP, "beta": _EXP, "lambda": (0.2, 1.0), "delta": (-0.5, 0.5), "gamma": _EXP}),
    Published(
        "vocabulary", "-E + A1*N^-alpha1 + A2*V^-alpha2 + B*D^-beta", ("N", "V", "D"),
        reference="Tao et al. 2024, Scaling laws with vocabulary (approach 3)",
        role="vocabulary: unigram-normalised loss in non-vocabulary parameters N, vocabulary parameters V, tokens D",
        meanings={"E": "minus the irreducible normalised loss", "A1": "N coefficient", "alpha1": "exponent of N",
                  "A2": "V coefficient", "alpha2": "exponent of V", "B": "D coefficient", "beta": "exponent of D"},
        centred=("N", "V", "D", "y"),
        units={"E": "E*exp(y)", "A1": "A1*exp(y + alpha1*N)", "A2": "A2*exp(y + alpha2*V)", "B": "B*exp(y + beta*D)"},
        axes={"alpha1": _EXP, "alpha2": _EXP, "beta": _EXP}),
    Published(
        "lr_batch_surface",
        "E + A*N^-alpha + A_D*D^-beta + k_lr*(log(lr) - log(c_lr) - a_lr*log(N) - b_lr*log(D))^2"
        " + k_B*(log(B) - log(c_B) - b_B*log(D))^2", ("N", "D", "lr", "B"),
        reference="DeepSeek-AI et al. 2024, DeepSeek LLM; Li et al. 2025, Predictable scale (StepLaw): optimum laws in N and D",
        role="learning rate and batch size: the loss surface of a sweep, optimum lr* = c_lr N^a_lr D^b_lr, B* = c_B D^b_B",
        meanings={"E": "irreducible loss", "A": "N coefficient", "alpha": "exponent of N", "A_D": "D coefficient",
                  "beta": "exponent of D", "k_lr": "curvature of the loss in log lr", "c_lr": "lr* at N = D = 1",
                  "a_lr": "exponent of N in lr*", "b_lr": "exponent of D in lr*",
                  "k_B": "curvature of the loss in log B", "c_B": "B* at D = 1", "b_B": "exponent of D in B*"},
        centred=("N", "D", "lr", "B", "y"),
        units={"E": "E*exp(y)", "A": "A*exp(y + alpha*N)", "A_D": "A_D*exp(y + beta*D)", "k_lr": "k_lr*exp(y)",
               "k_B": "k_B*exp(y)", "c_lr": "c_lr*exp(lr - a_lr*N - b_lr*D)", "c_B": "c_B*exp(B - b_B*D)"},
        axes={"alpha": (0.2, 0.4), "beta": (0.2, 0.4), "c_lr": (0.3, 1.0, 3.0), "a_lr": (-1.0, -0.5, 0.0),
              "b_lr": (-0.2, 0.2, 0.5), "c_B": (0.5, 1.0, 2.0), "b_B": (0.2, 0.6)},
        signed=("a_lr", "b_lr", "b_B")),
    Published(
        "data_mixing", "c + k*exp(t1*r1 + t2*r2)", ("r1", "r2"),
        reference="Ye et al. 2024, Data mixing laws (three domains)",
        role="data mixing: one domain's loss against the proportions r1, r2 of three domains (r3 = 1 - r1 - r2)",
        meanings={"c": "loss the mixture cannot remove", "k": "loss removable by the mixture, at the third domain alone",
                  "t1": "effect of domain 1's proportion, relative to domain 3",
                  "t2": "effect of domain 2's proportion, relative to domain 3"},
        centred=("y",), zero_ok=("r1", "r2"), units={"c": "c*exp(y)", "k": "k*exp(y)"},
        axes={"t1": (-2.0, -0.5, 0.5, 2.0), "t2": (-2.0, -0.5, 0.5, 2.0)}),
    Published(
        "finetune_rectified", "B/(D_l + D^beta) + E", ("D",),
        reference="Lin et al. 2024, Selecting LLM to fine-tune via rectified scaling law",
        role="fine-tuning: loss of one pre-trained model against fine-tuning data D, with pre-learned data D_l",
        meanings={"B": "coefficient", "D_l": "pre-learned data size (in units of D^beta)", "beta": "exponent of D",
                  "E": "irreducible loss"},
        centred=("D", "y"), units={"B": "B*exp(y + beta*D)", "D_l": "D_l*exp(beta*D)", "E": "E*exp(y)"},
        axes={"beta": (0.2, 0.5, 1.0), "D_l": (0.1, 1.0, 10.0)}),
    Published(
        "parallel", "(A/(N*(k*log(P) + 1)))^alpha + E", ("N", "P"),
        reference="Chen et al. 2025, Parallel scaling law for language models (ParScale)",
        role="parallel scaling: loss in parameters N and parallel streams P (P streams act as N (k log P + 1))",
        meanings={"A": "parameter scale of the power term", "k": "gain per log parallel stream",
                  "alpha": "exponent of effective parameters", "E": "irreducible loss"},
        centred=("N", "y"), units={"A": "A*exp(N + y/alpha)", "E": "E*exp(y)"},
        axes={"A": (0.01, 1.0, 100.0), "k": (0.1, 0.5, 1.0), "alpha": _EXP}),
    Published(
        "precision", "A*(N*(1 - exp(-bits/gamma)))^-alpha + B*D^-beta + E", ("N", "D", "bits"),
        reference="Kumar et al. 2024, Scaling laws for precision (training precision as effective parameters)",
        role="precision: loss in parameters N, tokens D and training precision (bits); N_eff = N (1 - exp(-bits/gamma))",
        meanings={"A": "N coefficient", "alpha": "exponent of effective parameters", "B": "D coefficient",
                  "beta": "exponent of D", "E": "irreducible loss", "gamma": "precision scale: bits at which N_eff = 63% N"},
        centred=("N", "D", "bits", "y"),
        units={"A": "A*exp(y + alpha*N)", "B": "B*exp(y + beta*D)", "E": "E*exp(y)", "gamma": "gamma*exp(bits)"},
        axes={"alpha": _EXP, "beta": _EXP, "gamma": (0.3, 1.0, 3.0)}),
    Published(
        "sparsity", "(a_S*(1 - S)^b_S + c_S)*N^-b_N + (a_D/D)^b_D + c", ("N", "D", "S"),
        reference="Frantar et al. 2023, Scaling laws for sparsely-connected foundation models",
        role="weight sparsity: loss in non-zero parameters N, tokens D and sparsity S",
        meanings={"a_S": "N coefficient removed by sparsity", "b_S": "exponent of the density 1 - S",
                  "c_S": "N coefficient at full sparsity", "b_N": "exponent of N", "a_D": "data scale",
                  "b_D": "exponent of D", "c": "irreducible loss"},
        centred=("N", "D", "y"), zero_ok=("S",),
        units={"a_S": "a_S*exp(y + b_N*N)", "c_S": "c_S*exp(y + b_N*N)", "a_D": "a_D*exp(D + y/b_D)", "c": "c*exp(y)"},
        axes={"b_S": (0.5, 1.5, 3.0), "b_N": _EXP, "a_D": (0.01, 1.0, 100.0), "b_D": _EXP}),
    distillation_law(),
)
