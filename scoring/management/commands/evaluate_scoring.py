"""``manage.py evaluate_scoring [CSV] [--scores-out FILE] [--no-references] [--fairness]
[--publish [PATH]]``: what the score means on the UCI data.

Prints, in one run: the score's test-split AUC next to logistic-regression and gradient-boosting
references; the split's score distribution (median, p5/p50/p95 and the p5–p95 span, members per
band); observed default rates per band and per 50-point bucket, and whether they fall band by
band; the score-to-odds relation fitted on the train split (points to double the odds, odds at
600). ``--fairness`` adds the table per demographic group (``scoring.demo.fairness``);
``--publish`` writes the figures the "How the score works" page shows (default: the committed
``scoring/explain/published.json``).

A thin wrapper around ``scoring.demo.evaluation``; see there for what is measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from scoring.demo.evaluation import ODDS_REFERENCE, as_published, evaluate
from scoring.demo.fairness import ATTRIBUTES, FOUR_FIFTHS, GroupFigures, top_two_floor
from scoring.explain.model_card import PUBLISHED_PATH
from scoring.model.params import PARAMS


def _auc(value: float | None) -> str:
    return "skipped" if value is None else f"{value:.4f}"


def _rate(row: dict[str, Any]) -> str:
    return "      -" if row["default_rate"] is None else f"{100 * row['default_rate']:6.1f}%"


class Command(BaseCommand):
    help = (
        "Replay the UCI credit-card data set as Credo events through the score model and print "
        "the test-split AUC (ID % 5 == 0) next to logistic-regression and gradient-boosting "
        "references trained on the train split, the split's score distribution, observed default "
        "rates per band and per 50-point bucket, and points to double the odds (train split). "
        "--fairness adds the figures per demographic group; --publish writes them all as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "csv",
            nargs="?",
            default=str(settings.CREDO_DATA_DIR / "uci_credit_card.csv"),
            help="path to uci_credit_card.csv (default: the one in CREDO_DATA_DIR)",
        )
        parser.add_argument("--scores-out", help="write 'ID,score' for every test-split row here")
        parser.add_argument(
            "--no-references",
            action="store_true",
            help="skip the scikit-learn reference models (faster; needs no scikit-learn)",
        )
        parser.add_argument(
            "--fairness",
            action="store_true",
            help="also report per group of sex, age band, education and marital status (never scored)",
        )
        parser.add_argument(
            "--publish",
            nargs="?",
            const=str(PUBLISHED_PATH),
            metavar="PATH",
            help=f"write the published figures as JSON (default {PUBLISHED_PATH.relative_to(settings.BASE_DIR)})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        references = not options["no_references"]
        fairness = options["fairness"] or options["publish"] is not None
        result = evaluate(
            options["csv"],
            scores_out=options["scores_out"],
            references=references,
            fairness=fairness,
        )
        self.report(result)
        if result["fairness"] is not None:
            self.report_fairness(result["fairness"])
        if options["scores_out"]:
            self.stdout.write(f"scores written to {options['scores_out']}")
        if options["publish"] is not None:
            figures = as_published(result)
            path = Path(options["publish"])
            path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
            self.stdout.write(f"published figures written to {path}")

    def report(self, result: dict[str, Any]) -> None:
        out = self.stdout
        out.write(f"UCI test split (ID % 5 == 0): {result['test_rows']} clients, {result['test_defaults']} defaults")
        out.write("AUC for not defaulting (higher score = less likely to default):")
        out.write(f"  Credo score (integer, 350-950)        {_auc(result['auc_score'])}")
        out.write(f"  Credo base (unrounded)                {_auc(result['auc_base'])}")
        out.write(f"  logistic regression, X6-X23, train    {_auc(result['logistic_regression'])}")
        out.write(f"  gradient boosting, X6-X23, train      {_auc(result['gradient_boosting'])}")
        out.write(
            f"Score distribution (test split, no social points): median {result['median_score']:.0f}, "
            f"mean {result['mean_score']:.1f}"
        )
        lows = [PARAMS.score_min, *(lowest for lowest, _ in PARAMS.bands)]
        highs = [*(lowest - 1 for lowest, _ in PARAMS.bands), PARAMS.score_max]
        for (name, count), low, high in zip(result["band_counts"].items(), lows, highs, strict=True):
            share = result["band_shares"][name]
            out.write(f"  {name:<10} {low}-{high}  {count:>5}  {100 * share:5.1f} %")
        out.write(
            f"  p5 {result['p5']:.0f}, p50 {result['p50']:.0f}, p95 {result['p95']:.0f}: "
            f"p5-p95 spans {result['p5_p95_span']:.0f} points"
        )
        out.write("Observed default rate per band (test split):")
        out.write(f"  {'band':<10} {'scores':<8} {'members':>7} {'defaults':>8} {'rate':>7}")
        for row in result["bands"]:
            scores = f"{row['low']}-{row['high']}"
            out.write(f"  {row['label']:<10} {scores:<8} {row['count']:>7} {row['defaults']:>8} {_rate(row)}")
        falls = "yes" if result["falls_band_by_band"] else "NO"
        out.write(f"  default rate falls band by band: {falls}")
        out.write("Observed default rate per 50-point bucket (test split):")
        out.write(f"  {'scores':<8} {'members':>7} {'defaults':>8} {'rate':>7}")
        for row in result["buckets"]:
            out.write(f"  {row['label']:<8} {row['count']:>7} {row['defaults']:>8} {_rate(row)}")
        fit = result["odds"]
        if fit is not None:
            out.write(
                f"Score to odds (train split, {fit.rows} clients): log-odds of not defaulting = "
                f"{fit.log_odds_at_600:.3f} + {fit.slope:.5f} x (score - {ODDS_REFERENCE:.0f})"
            )
            out.write(
                f"  points to double the odds (PDO): {fit.pdo:.1f}; odds at {ODDS_REFERENCE:.0f}: "
                f"{fit.odds_at_600:.2f} to 1"
            )

    def report_fairness(self, groups: list[GroupFigures]) -> None:
        out = self.stdout
        out.write(
            f"Fairness (test split; these columns are never read by the score): top two bands = "
            f"{top_two_floor()}+; impact ratio = group's top-two share / best group's, flagged below {FOUR_FIFTHS}"
        )
        out.write(
            f"  {'group':<18} {'members':>7} {'mean':>6} {'p5':>5} {'p50':>5} {'p95':>5} "
            f"{'default':>7} {'AUC':>6} {'top two':>7} {'ratio':>6}"
        )
        for key, title, _ in ATTRIBUTES:
            out.write(f"  {title}")
            for g in (g for g in groups if g.attribute == key):
                auc = "     -" if g.auc is None else f"{g.auc:.3f}"
                flag = "  below four-fifths" if g.flagged else ""
                out.write(
                    f"    {g.group:<16} {g.count:>7} {g.mean_score:6.1f} {g.p5:5.0f} {g.p50:5.0f} {g.p95:5.0f} "
                    f"{100 * g.default_rate:6.1f}% {auc:>6} {100 * g.top_two_share:6.1f}% {g.impact_ratio:6.2f}{flag}"
                )
