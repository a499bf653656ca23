"""The numerical algorithms behind the estimators, on NumPy arrays (no estimator API).

Gaussian algebra (``gaussian``), the conditional mixture that ``predict_distribution``
returns (``mixture``), EM on sufficient statistics (``em``), its variational form
(``vb``), conditioning a joint mixture on the context (``conditioning``), Growing Neural
Gas (``neural_gas``), SMC's particle bank (``particles``) and its bandwidth
(``bandwidth``), the dual (Gaussian-process) loss (``gp``) and the
conditional-likelihood refinement (``refine``). Estimators in :mod:`skgmje` call these;
nothing here imports an estimator.
"""
