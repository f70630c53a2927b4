"""Write the bundled example tables from scikit-learn's own data (no network needed).

    python examples/make_examples.py
"""
from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_breast_cancer, load_diabetes

HERE = Path(__file__).resolve().parent


def main() -> None:
    cancer = load_breast_cancer(as_frame=True)
    frame = cancer.frame.copy()
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    frame.rename(columns={"target": "diagnosis"}).to_csv(HERE / "breast_cancer.csv", index=False)

    diabetes = load_diabetes(as_frame=True, scaled=False)
    diabetes.frame.rename(columns={"target": "progression"}).to_csv(HERE / "diabetes.csv", index=False)


if __name__ == "__main__":
    main()
