"""Dict-valued parameters (``sampler_params``, ``generator_params``): one table each.

A table maps every accepted key to its default and its constraints, in the form
of scikit-learn's ``_parameter_constraints``; :func:`resolve_dict_param` fills
in the defaults and validates the values with scikit-learn's own validator, so
a key has one source of truth, and the docstrings are tested against it.
"""

from dataclasses import dataclass
from numbers import Integral, Real

from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from .samplers import INITS


@dataclass(frozen=True)
class DictKey:
    """One key of a dict parameter.

    Attributes
    ----------
    default : object
        Value when the key is absent. None often means "derived at fit"; the
        docstring says from what.
    constraints : list
        Accepted values, as in scikit-learn's ``_parameter_constraints``.
    """

    default: object
    constraints: list


def resolve_dict_param(value, table, param_name, caller):
    """``value`` with the table's defaults filled in, validated.

    Parameters
    ----------
    value : dict or None
        What the user passed.
    table : dict of str to DictKey
        The accepted keys.
    param_name : str
        The estimator parameter, for messages (``"sampler_params"``).
    caller : str
        The estimator's class name, for messages.

    Returns
    -------
    dict
        Every key of ``table``, user values first.

    Raises
    ------
    ValueError
        For an unknown key or a value outside its constraints.
    """
    value = dict(value or {})
    unknown = sorted(set(value) - set(table))
    if unknown:
        raise ValueError(
            f"Unknown {param_name} key(s) {unknown}; the keys are {sorted(table)}."
        )
    validate_parameter_constraints(
        {key: table[key].constraints for key in value},
        value,
        caller_name=f"{caller}.{param_name}",
    )
    return {key: value.get(key, spec.default) for key, spec in table.items()}


#: The keys of ``sampler_params``. ``init`` None means the estimator's default
#: (``"data_gaussian"`` for JEMClassifier, ``"diag_gaussian"`` for the density
#: estimator); ``sample_steps`` None means the training family's default.
SAMPLER_PARAMS = {
    "init": DictKey(None, [StrOptions(set(INITS)), None]),
    "clip_grad": DictKey(None, [Interval(Real, 0, None, closed="neither"), None]),
    "sample_steps": DictKey(None, [Interval(Integral, 0, None, closed="left"), None]),
}

#: Every dict parameter's table, by parameter name. A module that adds a dict
#: parameter registers its table here.
TABLES = {"sampler_params": SAMPLER_PARAMS}
