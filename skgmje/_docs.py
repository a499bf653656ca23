"""Links from an estimator's HTML representation to its page in the API reference."""

DOCUMENTATION_URL = "https://skgmje.readthedocs.io/en/latest"


class DocumentationLinkMixin:
    """The "?" link of scikit-learn's HTML repr, pointing to skgmje's API reference.

    The reference documents each class under its public path: ``skgmje.GMJE`` for the
    estimators exported by the package, the defining module otherwise
    (``skgmje.baselines.ResidualGaussianRegressor``). A subclass defined outside
    skgmje gets no link, as in scikit-learn.
    """

    _doc_link_module = "skgmje"
    _doc_link_template = DOCUMENTATION_URL + "/generated/{path}.html"

    def _doc_link_url_param_generator(self):
        import skgmje

        name = type(self).__name__
        exported = name in skgmje.__all__ and getattr(skgmje, name) is type(self)
        return {"path": f"{'skgmje' if exported else type(self).__module__}.{name}"}
