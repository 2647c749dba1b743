"""The parameter docs both estimators share stay identical, and the docs of
the dict parameters agree with their tables."""

import inspect
import re

import pytest

from sk_ebm import EnergyDensityEstimator, JEMClassifier
from sk_ebm._dict_params import TABLES

ESTIMATORS = [JEMClassifier, EnergyDensityEstimator]

#: Shared parameters whose docs differ on purpose, and why.
DIFFERENT_ON_PURPOSE = {
    "alpha": "a different default, and auto resolves per kind of model",
    "grad_penalty": "a different default",
    "energy_reg": "a different default, with the reason for the density's",
    "standardize": "the density estimator's scores add the scaler's log-Jacobian",
    "early_stopping": "accuracy of labeled rows against held-out likelihood",
    "validation_fraction": "labeled rows against all rows",
    "n_iter_no_change": "a different default, measured for the density's",
    "warm_start": "the classifier also needs the same classes",
    "verbose": "the classifier's progress bar shows accuracy",
    "base": "a different default, and what a base does to a classifier",
    "activation": "the density's auto takes ReLU for the MCMC families on tables",
}


def parameter_docs(cls):
    """``{name: full text of its entry}`` from the numpydoc Parameters section."""
    doc = inspect.getdoc(cls)
    section = doc.split("Parameters\n----------\n", 1)[1].split("\nAttributes\n")[0]
    entries = re.split(r"\n(?=\w+ : )", section.strip())
    return {entry.split(" : ", 1)[0]: entry for entry in entries}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_parameter_is_documented_in_signature_order(cls):
    signature = list(inspect.signature(cls).parameters)
    assert list(parameter_docs(cls)) == signature


def test_shared_parameter_docs_are_identical():
    clf, density = parameter_docs(JEMClassifier), parameter_docs(EnergyDensityEstimator)
    shared = set(clf) & set(density)
    assert set(DIFFERENT_ON_PURPOSE) <= shared
    for name in sorted(shared - set(DIFFERENT_ON_PURPOSE)):
        assert clf[name] == density[name], name
    for name in DIFFERENT_ON_PURPOSE:
        assert clf[name] != density[name], f"{name} no longer differs: share it"


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("param", sorted(TABLES))
def test_dict_parameter_docs_name_every_key_and_default(cls, param):
    text = " ".join(parameter_docs(cls)[param].split())
    table = TABLES[param]
    starts = {key: text.find(f'``"{key}"``:') for key in table}
    missing = [key for key, start in starts.items() if start < 0]
    assert not missing, f"{param} keys not documented: {missing}"
    bounds = sorted(starts.values()) + [len(text)]
    for key, start in starts.items():
        # A key's text runs up to the next key's.
        segment = text[start : bounds[bounds.index(start) + 1]]
        default = table[key].default
        assert f"default {default}" in segment, f"{param}[{key!r}]: {segment}"
