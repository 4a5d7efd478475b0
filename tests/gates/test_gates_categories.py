"""Robustness with text columns: empty strings and unseen categories, which only a model whose
encoder ignores unknown values survives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import shipyard.sklearn
from shipyard import gates


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "green", "blue"], rows)
    size = rng.normal(size=rows)
    label = ((colour == "red") ^ (size > 0.5)).astype(int)
    return pd.DataFrame({"colour": colour, "size": size, "label": label})


def _model(handle_unknown: str, folder: Path, train: pd.DataFrame) -> Path:
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown=handle_unknown), ["colour"]), remainder="passthrough"
    )
    model = make_pipeline(encode, LogisticRegression()).fit(train[["colour", "size"]], train.label)
    shipyard.sklearn.save_model(model, folder, input_example=train[["colour", "size"]].head(3))
    return folder


def test_unseen_categories_and_empty_strings(tmp_path: Path) -> None:
    train, data = _frame(400), _frame(200)
    strict = _model("error", tmp_path / "strict", train)
    lenient = _model("ignore", tmp_path / "lenient", train)
    policy = gates.parse_policy(
        "promote_to: production\nchecks:\n"
        "  - {type: robustness, cases: [empty_strings, unseen_categories]}\n"
    )
    failed = gates.run(strict, policy, data).checks[0]
    assert not failed.passed
    assert [(r["case"], r["column"]) for r in failed.table] == [
        ("empty_strings", "colour"), ("unseen_categories", "colour"),
    ]  # fmt: skip
    assert all(
        r["outcome"].startswith("crashed with ValueError: Found unknown categories")
        for r in failed.table
    )
    assert failed.message.startswith(
        "robustness: FAILED: 2 of 2 perturbed inputs failed, allowed: 0"
    )
    assert gates.run(lenient, policy, data).passed
