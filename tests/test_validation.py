"""Declared parameter constraints (``skgmje._validation``): every parameter of every
estimator is declared, an invalid value raises a ValueError naming it before the data
are looked at, and every default is valid."""

import numpy as np
import pytest
from _roster import STREAMING, estimators, public_estimator_classes, transformers
from sklearn.base import clone
from sklearn.utils._param_validation import generate_invalid_param_val

from skgmje import GJE
from skgmje._validation import as_constraint, validate_parameters
from skgmje.baselines import ResidualGaussianRegressor

ALL = estimators() + transformers()

# fit validates the parameters before X: this is not an array, so reaching the data would
# raise another error than the one expected.
NOT_DATA = object()


def _fit(model):
    if hasattr(model, "predict_distribution"):
        return model.fit(NOT_DATA, NOT_DATA)
    return model.fit(NOT_DATA)


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_every_parameter_is_declared(estimator):
    assert set(type(estimator)._parameter_constraints) == set(estimator.get_params(deep=False))


@pytest.mark.parametrize("cls", sorted(public_estimator_classes(), key=lambda c: c.__name__))
def test_defaults_satisfy_the_declared_constraints(cls):
    validate_parameters(cls())


def _invalid_settings():
    for estimator in ALL:
        for name, constraints in type(estimator)._parameter_constraints.items():
            if constraints == "no_validation":
                continue
            constraints = [as_constraint(constraint) for constraint in constraints]
            for constraint in constraints:
                try:
                    value = generate_invalid_param_val(constraint)
                except NotImplementedError:
                    continue
                if not any(other.is_satisfied_by(value) for other in constraints):
                    yield pytest.param(
                        estimator, name, value, id=f"{type(estimator).__name__}-{name}"
                    )


@pytest.mark.parametrize("estimator, name, value", list(_invalid_settings()))
def test_an_invalid_parameter_is_named_before_the_data_are_read(estimator, name, value):
    model = clone(estimator).set_params(**{name: value})
    with pytest.raises(ValueError, match=f"^{name} must be .*; got "):
        _fit(model)


@pytest.mark.parametrize(
    "model, name",
    [
        (ResidualGaussianRegressor(reg_covar=-5), "reg_covar"),
        (GJE(fit_mean="no"), "fit_mean"),
        (GJE(reg_covar=np.nan), "reg_covar"),
        (GJE(reg_covar=True), "reg_covar"),
    ],
)
def test_parameters_once_accepted_silently_are_refused(model, name):
    X, y = np.random.RandomState(0).normal(size=(2, 20, 1))
    with pytest.raises(ValueError, match=name):
        model.fit(X, y)


@pytest.mark.parametrize("estimator", estimators(STREAMING), ids=lambda e: type(e).__name__)
def test_partial_fit_validates_the_parameters_first(estimator):
    model = clone(estimator).set_params(random_state="not a seed")
    with pytest.raises(ValueError, match="^random_state must be"):
        model.partial_fit(NOT_DATA, NOT_DATA)
