"""Held-out conditional NLL of GMJE against scikit-learn's GaussianMixture and the oracle.

For Datasets A and B (2000 train / 5000 test, seed 0, as in ``python -m skgmje demo``):

* for K in 1, 3, 8, 16: scikit-learn ``GaussianMixture`` fitted on ``[x, y]`` and
  conditioned exactly as ``log p(y|x) = log p(x, y) - log p(x)`` (the marginal of
  x summed with SciPy), against ``GMJE`` with the same K and seed: target, same
  NLL within 0.02 nats;
* GMJE with K chosen by ``GridSearchCV`` on held-out log-likelihood: target, within
  0.10 nats of the oracle.

Writes JSON (``benchmarks/results/bench_nll.json`` by default) and prints a table.
Run: ``python benchmarks/bench_nll.py``.
"""

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import sklearn
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV

import skgmje
from skgmje import GMJE
from skgmje._demo import CANDIDATE_COMPONENTS, DATASETS, SEED, _split
from skgmje.datasets import BranchesOracle

COMPONENTS = (1, 3, 8, 16)


def sklearn_conditional_nll(K, X, y, X_test, y_test):
    """Mean -log p(y|x) of scikit-learn's joint GMM, by joint minus marginal density."""
    mixture = GaussianMixture(K, random_state=SEED).fit(np.column_stack([X, y]))
    joint = mixture.score_samples(np.column_stack([X_test, y_test]))
    dx = X.shape[1]
    marginal = logsumexp(
        [
            np.log(w) + stats.multivariate_normal(m[:dx], c[:dx, :dx]).logpdf(X_test)
            for w, m, c in zip(mixture.weights_, mixture.means_, mixture.covariances_)
        ],
        axis=0,
    )
    return float(-np.mean(joint - marginal))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="benchmarks/results/bench_nll.json")
    arguments = parser.parse_args()
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "versions": {"skgmje": skgmje.__version__, "sklearn": sklearn.__version__},
        "datasets": {},
    }
    print(f"{'dataset':<18}{'model':<22}{'sklearn':>9}{'skgmje':>9}{'diff':>9}")
    for title, (name, make) in DATASETS.items():
        X, y, X_test, y_test = _split(make)
        oracle = -BranchesOracle(name).score(X_test, y_test)
        rows = {"oracle_nll": oracle, "fixed_K": {}}
        for K in COMPONENTS:
            reference = sklearn_conditional_nll(K, X, y, X_test, y_test)
            ours = -GMJE(K, random_state=SEED).fit(X, y).score(X_test, y_test)
            difference = ours - reference
            rows["fixed_K"][K] = {
                "sklearn_nll": reference,
                "skgmje_nll": ours,
                "difference": difference,
                "target": "|difference| <= 0.02",
                "meets_target": abs(difference) <= 0.02,
            }
            print(f"{title:<18}{'K=' + str(K):<22}{reference:9.3f}{ours:9.3f}{difference:9.1e}")
        search = GridSearchCV(
            GMJE(random_state=SEED), {"n_components": list(CANDIDATE_COMPONENTS)}, cv=3
        ).fit(X, y)
        selected = -search.score(X_test, y_test)
        rows["cv_selected"] = {
            "n_components": search.best_params_["n_components"],
            "candidates": list(CANDIDATE_COMPONENTS),
            "nll": selected,
            "gap_to_oracle": selected - oracle,
            "target": "gap_to_oracle <= 0.10",
            "meets_target": selected - oracle <= 0.10,
        }
        print(
            f"{title:<18}{'K=%d by CV' % search.best_params_['n_components']:<22}"
            f"{'oracle':>9}{oracle:9.3f}  NLL {selected:.3f}, gap {selected - oracle:.3f}"
        )
        results["datasets"][title] = rows
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
