"""The numerical algorithms behind the estimators, on NumPy arrays (no estimator API).

Gaussian algebra (``gaussian``), EM on sufficient statistics (``em``), its variational
form (``vb``), conditioning a joint mixture on the context (``conditioning``), Growing
Neural Gas (``neural_gas``), the dual (Gaussian-process) loss (``gp``) and the
conditional-likelihood refinement (``refine``). Estimators in :mod:`skgmje` call these;
nothing here imports an estimator.
"""
