"""Adversarial robustness: JEM with and without SGLD refinement vs cross-entropy.

JEM's section 5.4: a few SGLD steps on ``log p(x)`` from the input before
classifying it should undo small adversarial perturbations, and a JEM should
not classify noise with confidence. Models (one fit each per seed):

* ``jem``: ``JEMClassifier`` with the package defaults (PCD, ``alpha="auto"``,
  0.03; correctly scaled Langevin, step 0.001).
* ``jem-paper``: JEM's published setting, likelihood weight 1 and the cold
  sampler (``alpha=1, step_size=1, noise_scale=0.01``), other defaults kept.
* ``ce``: the same network and code trained with cross-entropy only
  (``alpha=0, energy_reg=0, n_steps=0``: no likelihood term, no sampling).

Each is evaluated as fitted (``refine_steps=0``) and with ``--refine-steps``
steps of refinement with its fitted sampler (``+refine<K>``), and, where that
sampler is not already JEM's cold one, with ``step_size=1.0,
noise_scale=0.01`` set after fit (``+refine<K>-cold``). ``ce+refine<K>-cold``
is the control: refinement on a network never trained as a density.

Attacks, white-box, on the whole predict path: untargeted PGD on the margin
loss (best wrong logit minus the true one; the cross-entropy's gradient
vanishes where refinement saturates the softmax, see ``margin_loss``) of
``JEMClassifier._refined_logits``, the same float64 function ``predict``
computes (scaler, ``refine_steps`` sampler steps, network). Refined models
are attacked twice: with the exact gradient through every refinement step
(``keep_graph=True``), and with BPDA (``straight_through=True``: the
refinement treated as the identity on the way back); a row counts as robust
only if both fail. The refinement's noise is the deployed one (a generator
seeded by ``refine_seed_``, the same noise at every call), so the attacker
differentiates exactly the function it attacks and needs no expectation over
the noise (``--eot N`` averages the exact gradient over N fresh noise draws
instead, to check). Inputs in pixel units (digits: 0..16), clipped to the
pixel range after each step; L-infinity and L2 balls of ``--linf`` and
``--l2`` radii in pixel units; ``--pgd-steps`` steps of size
``2.5 * eps / steps`` from a uniform random start in the ball. A row counts
as robust at eps only if it was classified correctly at every iterate (the
start included) of this eps and of every smaller one (an adversarial inside
a smaller ball is inside the larger). Own loop: foolbox 3.3.4 installs beside
torch but would need a wrapper for float64 and for the refinement's
generator; torchattacks pulls another torch.

Distal adversarials (Schott et al.; JEM figure 6): ``--n-distal`` images of
uniform noise in the pixel range, each pushed for ``--distal-steps`` signed
gradient steps of ``--distal-step`` pixels (default 1/64 of the pixel range)
on ``log p(y = c | x)`` through the refinement, for a target class c
(cycling over classes), clipped to the pixel range, no other budget.
Reported: the mean probability of the target class, the share of images
above 0.9, and the mean largest class probability.

    python benchmarks/robustness.py [--quick] [--datasets digits]
        [--seeds 0] [--refine-steps 10] [--pgd-steps 20] [--fresh]

``--datasets fashion-mnist``: ``--n-train`` images of the training set and
``--n-test`` of the test set (fixed random subsets), pixels / 255 in [0, 1],
the convolutional network (``network=--network``, ``input_shape=(1, 28,
28)``); L-infinity radii print as 255ths. It is costly: the exact gradient
through 10 refinement steps of that network takes about 20 s per PGD step
for 300 images on one CPU thread (the float64 double backward), against 2 s
for BPDA and 0.5 s without refinement, hence ``--variants`` (e.g. ``jem
jem+refine10 ce ce+refine10-cold``) to attack only some of the variants.

Appends one JSON line per (model, seed, attack, eps, metric) to
benchmarks/results/robustness_<dataset>.jsonl (``..._quick`` with
``--quick``), writes the table beside it (``.md``) and the accuracy curves
(``.png``).
"""

import pickle
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils import Bunch  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402

COLD = {"step_size": 1.0, "noise_scale": 0.01}
#: How each model is trained, on top of the package defaults.
TRAININGS = {
    "jem": {},
    "jem-paper": {"alpha": 1.0, **COLD},
    "ce": {"alpha": 0.0, "energy_reg": 0.0, "n_steps": 0},
}


def digits(args):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test[: args.n_test],
        y_test=y_test[: args.n_test],
        low=0.0,
        high=16.0,
        linf=args.linf or [0.25, 0.5, 1.0, 2.0],
        l2=args.l2 or [1.0, 2.0, 4.0, 8.0],
        extra={},
    )


def fashion_mnist(args):
    from sk_ebm.datasets import load_fashion_mnist

    rng = np.random.default_rng(0)
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    train = rng.choice(len(X), args.n_train, replace=False)
    test = rng.choice(len(X_test), args.n_test, replace=False)
    return Bunch(
        X_train=X[train],
        y_train=y[train],
        X_test=X_test[test],
        y_test=y_test[test],
        low=0.0,
        high=1.0,
        linf=args.linf or [1 / 255, 2 / 255, 4 / 255, 8 / 255],
        l2=args.l2 or [0.25, 0.5, 1.0, 2.0],
        extra={"network": args.network, "input_shape": (1, 28, 28)},
    )


DATASETS = {"digits": digits, "fashion-mnist": fashion_mnist}


def fit(training, seed, data, max_iter):
    params = dict(device="cpu", random_state=seed, **data.extra)
    if max_iter is not None:
        params["max_iter"] = max_iter
    params.update(TRAININGS[training])
    with _common.Timer() as t:
        model = JEMClassifier(**params).fit(data.X_train, data.y_train)
    return model, t.seconds


def variant_settings(training, k):
    """``{name: parameters set after fit}``: plain, refined, refined cold."""
    settings = {training: {}, f"{training}+refine{k}": {"refine_steps": k}}
    if TRAININGS[training].get("step_size") != COLD["step_size"]:
        settings[f"{training}+refine{k}-cold"] = {"refine_steps": k, **COLD}
    return settings


def variant_names(training, k):
    return list(variant_settings(training, k))


def variants(training, model, k):
    """The fitted model as each variant predicts."""
    for name, params in variant_settings(training, k).items():
        yield name, pickle.loads(pickle.dumps(model)).set_params(**params)


# ------------------------------------------------------------------- attacks
def _logits(model, x, eot, seed, straight_through):
    if straight_through:
        return model._refined_logits(x, straight_through=True)
    if eot == 0:
        return model._refined_logits(x, keep_graph=True)
    # The mean of the logits over fresh noise: the gradient is their average.
    draws = [
        model._refined_logits(
            x, keep_graph=True, generator=torch.Generator().manual_seed(seed + i)
        )
        for i in range(eot)
    ]
    return torch.stack(draws).mean(0)


def _correct(model, x, y):
    with torch.no_grad():
        return model._refined_logits(x).argmax(1) == y


def _project(delta, eps, norm):
    if norm == "linf":
        return delta.clamp(-eps, eps)
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (eps / norms).clamp(max=1.0).view(-1, *[1] * (delta.dim() - 1))


def _random_start(x, eps, norm, generator):
    if norm == "linf":
        return (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1) * eps
    # Uniform in the L2 ball: a uniform direction, radius eps * U^(1/d).
    direction = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    direction /= direction.flatten(1).norm(dim=1).view(-1, *[1] * (x.dim() - 1))
    d = x[0].numel()
    radius = eps * torch.rand(len(x), generator=generator, dtype=x.dtype) ** (1 / d)
    return direction * radius.view(-1, *[1] * (x.dim() - 1))


def _ascent(grad, norm):
    if norm == "linf":
        return grad.sign()
    norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
    return grad / norms.view(-1, *[1] * (grad.dim() - 1))


def margin_loss(logits, y):
    """Sum over rows of the best wrong logit minus the true one (Carlini-Wagner).

    Not the cross-entropy: its gradient vanishes where the softmax saturates,
    which a refinement that inflates the logits makes it do (measured: cold
    refinement of the cross-entropy network took the largest logit from 20 to
    470 and left 98 % of the rows with a zero cross-entropy gradient).
    """
    true = logits.gather(1, y[:, None])[:, 0]
    wrong = logits.scatter(1, y[:, None], float("-inf")).max(1).values
    return (wrong - true).sum()


def pgd_robust(model, X, y, eps, norm, data, args, seed, straight_through=False):
    """Which rows PGD fails on: classified correctly at every iterate."""
    x0 = torch.tensor(X, dtype=torch.float64)
    y_index = torch.as_tensor(np.searchsorted(model.classes_, y))
    generator = torch.Generator().manual_seed(seed)
    robust = _correct(model, x0, y_index)
    step = 2.5 * eps / args.pgd_steps
    delta = _random_start(x0, eps, norm, generator)
    for i in range(args.pgd_steps):
        x = (x0 + delta).clamp(data.low, data.high).requires_grad_(True)
        logits = _logits(model, x, args.eot, seed + 1000 * i, straight_through)
        loss = margin_loss(logits, y_index)
        (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            if args.eot == 0:
                # These logits are predict's (also with straight_through).
                robust &= logits.argmax(1) == y_index
            else:
                # Averaged logits are not what predict computes: score the
                # iterate as deployed.
                robust &= _correct(model, x.detach(), y_index)
            delta = x.detach() + step * _ascent(grad, norm) - x0
            delta = _project(delta, eps, norm)
    x = (x0 + delta).clamp(data.low, data.high)
    robust &= _correct(model, x, y_index)
    return robust.numpy()


def distal(model, data, args, seed):
    """Mean probability of the target class after pushing noise towards it."""
    generator = torch.Generator().manual_seed(seed)
    n_features = data.X_train.shape[1]
    x = data.low + (data.high - data.low) * torch.rand(
        args.n_distal, n_features, generator=generator, dtype=torch.float64
    )
    target = torch.arange(args.n_distal) % len(model.classes_)
    # Default: 1/64 of the pixel range (0.25 on digits' 0..16).
    step = args.distal_step or (data.high - data.low) / 64
    for _ in range(args.distal_steps):
        x.requires_grad_(True)
        log_p = torch.log_softmax(model._refined_logits(x, keep_graph=True), dim=1)
        (grad,) = torch.autograd.grad(log_p.gather(1, target[:, None]).sum(), x)
        with torch.no_grad():
            x = (x + step * grad.sign()).clamp(data.low, data.high)
    proba = model.predict_proba(x.detach().numpy())
    p_target = proba[np.arange(len(x)), target.numpy()]
    return {
        "p_target": float(p_target.mean()),
        "share_above_0.9": float((p_target > 0.9).mean()),
        "max_proba": float(proba.max(1).mean()),
    }


def run_one(log, dataset, data, training, seed, args):
    model, fit_seconds = fit(training, seed, data, args.max_iter)
    for name, variant in variants(training, model, args.refine_steps):
        if name not in args.models:
            continue

        def add(attack, eps, metric, value, seconds, name=name):
            log.add(
                dataset=dataset,
                model=name,
                seed=seed,
                attack=attack,
                eps=eps,
                metric=metric,
                value=float(value),
                seconds=seconds,
                fit_seconds=fit_seconds,
                pgd_steps=args.pgd_steps,
                eot=args.eot,
            )

        with _common.Timer() as t:
            clean = variant.score(data.X_test, data.y_test)
        add("clean", 0.0, "accuracy", float(clean), t.seconds)
        for norm in ("linf", "l2"):
            # An adversarial found inside a smaller ball is inside the larger
            # ones: a row survives eps only if it survived every smaller eps.
            survived = np.ones(len(data.y_test), dtype=bool)
            for eps in sorted(getattr(data, norm)):
                attack = (variant, data.X_test, data.y_test, eps, norm, data, args)
                with _common.Timer() as t:
                    robust = pgd_robust(*attack, seed)
                    if variant.refine_steps > 0:
                        bpda = pgd_robust(*attack, seed, straight_through=True)
                        add(norm, eps, "accuracy_exact", robust.mean(), 0.0)
                        add(norm, eps, "accuracy_bpda", bpda.mean(), 0.0)
                        # Robust only if both attacks fail on the row.
                        robust = robust & bpda
                survived &= robust
                add(norm, eps, "accuracy", survived.mean(), t.seconds)
        with _common.Timer() as t:
            result = distal(variant, data, args, seed)
        for metric, value in result.items():
            add("distal", 0.0, metric, value, t.seconds)


# ------------------------------------------------------------------- reports
def model_order(rows, k):
    names = [n for t in TRAININGS for n in variant_names(t, k)]
    return [n for n in names if any(r["model"] == n for r in rows)]


def _value(rows, model, attack, eps, metric="accuracy"):
    values = [
        r["value"]
        for r in rows
        if (r["model"], r["attack"], r["metric"]) == (model, attack, metric)
        and np.isclose(r["eps"], eps)
    ]
    return _common.mean_std(values) if values else "–"


def eps_label(eps, dataset):
    """``eps`` as printed: in 255ths where pixels are in [0, 1] and it is one."""
    levels = eps * 255
    if dataset == "fashion-mnist" and np.isclose(levels, round(levels)):
        return f"{round(levels)}/255"
    return f"{eps:g}"


def summarize(rows, dataset, k):
    rows = [r for r in rows if r["dataset"] == dataset]
    if not rows:
        return ""
    models = model_order(rows, k)
    settings = rows[0]
    linf = sorted({r["eps"] for r in rows if r["attack"] == "linf"})
    l2 = sorted({r["eps"] for r in rows if r["attack"] == "l2"})
    seeds = ",".join(str(s) for s in sorted({r["seed"] for r in rows}))
    attack = (
        f"white-box PGD on the margin loss through the refinement, "
        f"{settings['pgd_steps']} steps of "
        "2.5 eps / steps, random start, pixel units, clipped to the pixel range; "
        + (
            "exact deployed noise"
            if settings["eot"] == 0
            else f"gradient averaged over {settings['eot']} noise draws"
        )
        + f"; seeds {seeds}"
    )
    header = (
        ["model", "clean"]
        + [f"Linf {eps_label(e, dataset)}" for e in linf]
        + [f"L2 {e:g}" for e in l2]
        + ["distal p(target)", "distal > 0.9", "distal max p"]
    )
    cells = []
    for model in models:
        cells.append(
            [model, _value(rows, model, "clean", 0.0)]
            + [_value(rows, model, "linf", e) for e in linf]
            + [_value(rows, model, "l2", e) for e in l2]
            + [
                _value(rows, model, "distal", 0.0, "p_target"),
                _value(rows, model, "distal", 0.0, "share_above_0.9"),
                _value(rows, model, "distal", 0.0, "max_proba"),
            ]
        )
    return "\n".join(
        [
            f"### {dataset}: accuracy % under attack ({attack})\n",
            _common.markdown_table(header, cells),
            "\nRefined models: a row counts as robust only if both the exact-gradient "
            "attack and BPDA (gradient through the refinement taken as the identity) "
            "fail on it; the jsonl file has each attack's accuracy. Distal: mean "
            "p(target) %, share % of noise images with p(target) > 0.9, and mean "
            "largest class probability %, after the push towards a target class.",
        ]
    )


def plot(rows, dataset, k, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["dataset"] == dataset]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, norm in zip(axes, ("linf", "l2")):
        eps = [0.0] + sorted({r["eps"] for r in rows if r["attack"] == norm})
        for model in model_order(rows, k):
            values = []
            for e in eps:
                attack = "clean" if e == 0 else norm
                v = [
                    r["value"]
                    for r in rows
                    if (r["model"], r["attack"], r["metric"])
                    == (model, attack, "accuracy")
                    and np.isclose(r["eps"], e)
                ]
                values.append(100 * np.mean(v) if v else np.nan)
            training = model.split("+")[0]
            color = f"C{list(TRAININGS).index(training)}"
            style = ":" if model.endswith("-cold") else "--" if "+" in model else "-"
            ax.plot(eps, values, style, color=color, marker="o", label=model)
        ax.set_xlabel(f"{'L-infinity' if norm == 'linf' else 'L2'} eps (pixels)")
        ax.set_title(f"{dataset}: PGD, {norm}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy %")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = _common.benchmark_parser(__doc__, DATASETS, TRAININGS, "100 test rows")
    parser.add_argument("--refine-steps", type=int, default=10)
    parser.add_argument("--pgd-steps", type=int, default=20)
    parser.add_argument("--eot", type=int, default=0)
    parser.add_argument("--linf", type=float, nargs="+")
    parser.add_argument("--l2", type=float, nargs="+")
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-distal", type=int, default=100)
    parser.add_argument("--distal-steps", type=int, default=100)
    parser.add_argument("--distal-step", type=float, default=None)
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--network", default="conv")
    parser.add_argument(
        "--variants",
        nargs="+",
        help="evaluate only these variants, e.g. jem jem+refine10 (default: all)",
    )
    parser.add_argument(
        "--table-only", action="store_true", help="rewrite the table and plot"
    )
    parser.set_defaults(datasets=["digits"], seeds=[0])
    args = parser.parse_args(argv)
    if args.quick:
        args.n_test, args.max_iter, args.pgd_steps = 100, 20, 10
    args.models = args.variants or [
        n for t in args.methods for n in variant_names(t, args.refine_steps)
    ]
    key = ("dataset", "model", "seed", "attack", "eps", "metric")
    for dataset in args.datasets:
        stem, log = _common.open_log(args, f"robustness_{dataset}", key)
        if not args.table_only:
            data = DATASETS[dataset](args)
            for training in args.methods:
                for seed in args.seeds:
                    run_one(log, dataset, data, training, seed, args)
        k = args.refine_steps
        _common.write_text(stem.with_suffix(".md"), summarize(log.rows, dataset, k))
        plot(log.rows, dataset, k, stem.with_suffix(".png"))


if __name__ == "__main__":
    main()
