"""Train a random forest on the wine table with a fixed seed, and log it to the run that
`shipyard run` started (SHIPYARD_RUN_ID): same code, data and seed give the same model."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split

import shipyard
import shipyard.sklearn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    table = pd.read_csv(args.data)
    features, target = table.drop(columns="target"), table["target"]
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=args.test_size, random_state=args.seed, stratify=target
    )
    model = RandomForestClassifier(
        n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed
    )
    model.fit(x_train, y_train)

    with shipyard.start_run():  # resumes the run `shipyard run` made
        predicted = model.predict(x_test)
        shipyard.log_metrics(
            {
                "accuracy": accuracy_score(y_test, predicted),
                "f1_macro": f1_score(y_test, predicted, average="macro"),
                "log_loss": log_loss(y_test, model.predict_proba(x_test)),
            }
        )
        shipyard.sklearn.log_model(model, "model", input_example=x_test.head(3))
        with tempfile.TemporaryDirectory() as scratch:  # the held-out rows, for the gate in CI
            held_out = Path(scratch) / "eval.csv"
            x_test.assign(target=y_test).to_csv(held_out, index=False)
            shipyard.log_artifact(held_out, "eval")
        print(f"accuracy {accuracy_score(y_test, predicted):.4f}")


if __name__ == "__main__":
    main()
