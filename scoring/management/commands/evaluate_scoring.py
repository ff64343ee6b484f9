"""``manage.py evaluate_scoring CSV [--scores-out FILE] [--no-references]``: the score's AUC on
the UCI test split, and how the split's scores spread over the bands (median, share per band).

A thin wrapper around ``scoring.demo.evaluation.evaluate``; see there for what is measured.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scoring.demo.evaluation import evaluate
from scoring.model.params import PARAMS


class Command(BaseCommand):
    help = (
        "Replay the UCI credit-card data set as Credo events through the score model and print "
        "the test-split AUC (ID % 5 == 0) next to logistic-regression and gradient-boosting "
        "references trained on the train split, then the split's band distribution (share per "
        "band and median score)."
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
        out.write(
            f"Score distribution (test split, no social points): median {result['median_score']:.0f}, "
            f"mean {result['mean_score']:.1f}"
        )
        lows = [PARAMS.score_min, *(lowest for lowest, _ in PARAMS.bands)]
        highs = [*(lowest - 1 for lowest, _ in PARAMS.bands), PARAMS.score_max]
        for (name, count), low, high in zip(result["band_counts"].items(), lows, highs, strict=True):
            share = result["band_shares"][name]
            out.write(f"  {name:<10} {low}-{high}  {count:>5}  {100 * share:5.1f} %")
        if options["scores_out"]:
            out.write(f"scores written to {options['scores_out']}")
