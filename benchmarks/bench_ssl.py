"""Self-supervised objectives of JointEmbedding on digits and translated digits.

One shared encoder (MLP n -> 512 -> 256 -> 32), augmentation (random shifts and
Gaussian pixel noise as the two views) and epoch budget for every objective;
scikit-learn's digits with a fixed stratified 70/30 split, as they are and pasted
at random places of a 14x14 canvas (``make_translated_digits``). Measured, in one run:

(a) for every objective of ``JointEmbedding`` and for raw pixels, PCA-32 and the
    untrained encoder: linear-probe accuracy (LogisticRegression on standardised
    frozen features), 5-NN accuracy, and the effective rank of the embedding
    covariance (exp of the entropy of its normalised eigenvalues), with the fit time;
(b) SMC bank against FIFO bank (MoCo) on translated digits, a tight bank (32) and a
    roomy one (256), three seeds.

Targets (issue 5), on translated digits: SMC >= FIFO in linear-probe accuracy (mean
over seeds, each bank size); the best GMJE objective within 2 points of the best of
InfoNCE/MoCo; every GMJE objective's effective rank >= InfoNCE's.

Run ``python benchmarks/bench_ssl.py`` (about 15 minutes on 2 cores) or ``--quick``
(a few epochs, a smoke run). Results go to ``benchmarks/results/bench_ssl.json``.
"""

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from _common import machine_info, progress
from skgmje.datasets import make_translated_digits
from skgmje.embedding import OBJECTIVES, JointEmbedding
from skgmje.nn.encoders import MLPEncoder

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_ssl.json"
GMJE_OBJECTIVES = ("gmje", "gmje-mdn", "smc-gmje")
CONTRASTIVE = ("infonce", "moco")
SHARED = {
    "embedding_dim": 32,
    "hidden_layer_sizes": (512, 256),
    "augment": "image",
    "batch_size": 256,
    "lr": 1e-3,
    "temperature": 0.2,
    "n_threads": 1,
}
FULL = {"max_epochs": 150, "ablation_seeds": [0, 1, 2], "bank_sizes": [32, 256]}
QUICK = {"max_epochs": 3, "ablation_seeds": [0], "bank_sizes": [32]}


def load(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X, max_shift = X / 16.0, 1
    else:
        X, y = make_translated_digits(canvas=14, noise=0.05, random_state=0)
        max_shift = 4
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float32), y, test_size=0.3, stratify=y, random_state=0
    )
    return X_train, X_test, y_train, y_test, max_shift


def effective_rank(embeddings):
    eigenvalues = np.clip(np.linalg.eigvalsh(np.cov(embeddings, rowvar=False)), 0.0, None)
    shares = eigenvalues / eigenvalues.sum()
    shares = shares[shares > 0]
    return float(np.exp(-np.sum(shares * np.log(shares))))


def evaluate(train_features, test_features, y_train, y_test):
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    probe.fit(train_features, y_train)
    neighbours = KNeighborsClassifier(5).fit(train_features, y_train)
    return {
        "linear_probe": float(probe.score(test_features, y_test)),
        "knn5": float(neighbours.score(test_features, y_test)),
        "effective_rank": effective_rank(train_features),
    }


def train(objective, data, config, seed=0, **params):
    X_train, X_test, y_train, y_test, max_shift = data
    model = JointEmbedding(
        objective,
        max_shift=max_shift,
        max_epochs=config["max_epochs"],
        random_state=seed,
        **{**SHARED, **params},
    )
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    row = evaluate(model.transform(X_train), model.transform(X_test), y_train, y_test)
    row["fit_seconds"] = seconds
    row["final_loss"] = float(model.net_.history[-1, "train_loss"])
    if objective == "smc-gmje":
        ess = model.net_.criterion_.bank.ess_history
        row["mean_ess"] = float(np.mean(ess))
    return row


def baselines(data):
    X_train, X_test, y_train, y_test, _ = data
    rows = {"raw pixels": evaluate(X_train, X_test, y_train, y_test)}
    pca = PCA(SHARED["embedding_dim"], random_state=0).fit(X_train)
    rows["PCA-32"] = evaluate(pca.transform(X_train), pca.transform(X_test), y_train, y_test)
    torch.manual_seed(0)
    encoder = MLPEncoder(X_train.shape[1], SHARED["hidden_layer_sizes"], SHARED["embedding_dim"])
    with torch.no_grad():
        embed = lambda X: encoder(torch.as_tensor(X)).numpy()  # noqa: E731
        rows["untrained encoder"] = evaluate(embed(X_train), embed(X_test), y_train, y_test)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    results = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name in ("digits", "translated digits"):
            data = load(name)
            rows = baselines(data)
            for objective in OBJECTIVES:
                progress(f"{name}: {objective} ...")
                rows[objective] = train(objective, data, config)
            results[name] = rows
        progress("SMC vs FIFO bank on translated digits ...")
        data = load("translated digits")
        ablation = {}
        for bank_size in config["bank_sizes"]:
            runs = {"smc-gmje": [], "moco": []}
            for seed in config["ablation_seeds"]:
                for objective in runs:
                    row = train(objective, data, config, seed=seed, bank_size=bank_size)
                    runs[objective].append(row)
            smc = np.mean([row["linear_probe"] for row in runs["smc-gmje"]])
            fifo = np.mean([row["linear_probe"] for row in runs["moco"]])
            ablation[str(bank_size)] = {
                "smc_linear_probe_mean": float(smc),
                "fifo_linear_probe_mean": float(fifo),
                "smc_minus_fifo": float(smc - fifo),
                "meets_target": bool(smc >= fifo),
                "runs": runs,
            }
    translated = results["translated digits"]
    best_gmje = max(GMJE_OBJECTIVES, key=lambda name: translated[name]["linear_probe"])
    best_contrastive = max(CONTRASTIVE, key=lambda name: translated[name]["linear_probe"])
    gap = translated[best_contrastive]["linear_probe"] - translated[best_gmje]["linear_probe"]
    targets = {
        "smc_at_least_fifo": all(entry["meets_target"] for entry in ablation.values()),
        "best_gmje_within_2_points_of_contrastive": {
            "best_gmje": best_gmje,
            "best_contrastive": best_contrastive,
            "gap_points": 100 * gap,
            "meets_target": bool(gap <= 0.02),
        },
        "gmje_effective_rank_at_least_infonce": {
            name: bool(translated[name]["effective_rank"] >= translated["infonce"]["effective_rank"])
            for name in GMJE_OBJECTIVES
        },
    }
    report = {
        "benchmark": "bench_ssl",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "quick": args.quick,
        "config": {**config, "shared": SHARED, "split": "stratified 70/30, random_state=0"},
        "machine": machine_info(),
        "results": results,
        "smc_vs_fifo": ablation,
        "targets": targets,
        "wall_seconds": time.perf_counter() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for name, rows in results.items():
        print(f"\n{name}: accuracy (%) and effective rank of the 32-d features")
        print(f"{'features':<20}{'linear':>8}{'5-NN':>8}{'eff. rank':>11}{'fit s':>8}")
        for label, row in rows.items():
            seconds = f"{row['fit_seconds']:8.1f}" if "fit_seconds" in row else f"{'-':>8}"
            print(
                f"{label:<20}{100 * row['linear_probe']:8.1f}{100 * row['knn5']:8.1f}"
                f"{row['effective_rank']:11.1f}{seconds}"
            )
    print("\nSMC vs FIFO bank, translated digits, linear probe (%), mean over seeds")
    for bank_size, entry in ablation.items():
        print(
            f"  bank {bank_size:>4}: SMC {100 * entry['smc_linear_probe_mean']:.1f}  "
            f"FIFO {100 * entry['fifo_linear_probe_mean']:.1f}  (target SMC >= FIFO: "
            f"{entry['meets_target']})"
        )
    print(f"\ntargets: {json.dumps(targets)}")
    print(f"wall time {report['wall_seconds']:.0f} s; wrote {args.output}")


if __name__ == "__main__":
    main()
