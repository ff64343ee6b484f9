"""``manage.py evaluate_scoring CSV [--scores-out FILE]``: the score's AUC on the UCI test split.

A thin wrapper around ``scoring.evaluation.evaluate``; see there for what is measured.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scoring.evaluation import evaluate


class Command(BaseCommand):
    help = (
        "Replay the UCI credit-card data set as Credo events through the score model and print "
        "the test-split AUC (ID % 5 == 0) next to logistic-regression and gradient-boosting "
        "references trained on the train split."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", help="path to uci_credit_card.csv")
        parser.add_argument("--scores-out", help="write 'ID,score' for every test-split row here")
        parser.add_argument(
            "--no-references",
            action="store_true",
            help="skip the scikit-learn reference models (faster; needs no scikit-learn)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = evaluate(
            options["csv"],
            scores_out=options["scores_out"],
            references=not options["no_references"],
        )

        def auc(value: float | None) -> str:
            return "skipped" if value is None else f"{value:.4f}"

        out = self.stdout
        out.write(f"UCI test split (ID % 5 == 0): {result['test_rows']} clients, {result['test_defaults']} defaults")
        out.write("AUC for not defaulting (higher score = less likely to default):")
        out.write(f"  Credo score (integer, 350-950)        {auc(result['auc_score'])}")
        out.write(f"  Credo base (unrounded)                {auc(result['auc_base'])}")
        out.write(f"  logistic regression, X6-X23, train    {auc(result['logistic_regression'])}")
        out.write(f"  gradient boosting, X6-X23, train      {auc(result['gradient_boosting'])}")
        bands = ", ".join(f"{name} {count}" for name, count in result["band_counts"].items())
        out.write(f"mean score {result['mean_score']:.1f}; bands: {bands}")
        if options["scores_out"]:
            out.write(f"scores written to {options['scores_out']}")
