"""Torch building blocks (no scikit-learn): the paper's objectives and networks."""
