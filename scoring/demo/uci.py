"""The one mapping of a UCI "default of credit card clients" row to Credo events.

Used by ``manage.py evaluate_scoring`` (calibration and its report) and by the demo world, so
both see exactly the same members. Pure Python, no Django.

The data set (in ``settings.CREDO_DATA_DIR``; see the README there) holds, per client, six months of one credit
card, April to September 2005: the repayment status ``PAY`` (X6-X11, September first), the
statement amount ``BILL_AMT`` (X12-X17) and the amount paid ``PAY_AMT`` (X18-X23), the payment
made in a month being against the previous month's statement. The credit limit (X1) and the
demographics (X2-X5: sex, education, marriage, age) are **never read**: ``load_rows`` drops
them, so no Credo score can depend on them (DESIGN §2.1).

Mapping, for each repayment month m = May ... September 2005 (the April status is dropped:
the March statement it repays is not in the data set):

* statement S = BILL_AMT of month m-1, payment P = PAY_AMT of month m, status k = PAY of m;
  the statement is due on the 15th of month m (``due_date``); card and bill events
  ``occurred_at`` that due date at 12:00 UTC, so recency follows the obligation, not the payment.
* lateness: k <= 0 (-2 no consumption, -1 paid duly, 0 revolving with the minimum paid) is
  paid on the due date; k >= 1 is paid 30·k days after it (k >= 3 is 90+ days late, quality 0).
* ``card_repayment`` (whether the card was kept current), every month: amount = max(S, 0);
  no ``amount_paid``, since the status already says whether the required payment was made.
  A month of no consumption (k = -2) is reported like a bureau reports an idle account:
  current, i.e. on time (often for 0.00).
* ``bill_payment`` (whether the statement bill was settled in full; UCI has no utility bills, so
  the card statement is the bill): emitted when S > 0, amount = S, amount_paid = min(P, S),
  same paid date as the card repayment. A revolver who pays 5 % of the statement is on time but
  partial.
* ``purchase`` on the 10th of month m: the new charges on month m's statement,
  BILL_AMT(m) - BILL_AMT(m-1) + PAY_AMT(m), when positive (interest on a revolving balance
  is counted as spend: the data set cannot tell it apart).

Amounts are converted from NT$ to EUR at ``TWD_PER_EUR`` (about the 2005 rate) and rounded to
the cent, so the partner API can carry them (``currency: "EUR"``). ``external_id``/``ref`` is
``uci-<ID>-<card|bill|purchase>-2005-MM``: stable, whatever the anchor.

``anchor`` moves the whole history by whole days so that the September 2005 due date falls on
``anchor`` (the demo world puts it near today). The score depends on the events' ages on the
scoring date, so a replay shifted by whole days and scored on its shifted ``AS_OF`` scores
exactly the same.

Two things the ingestion path must allow to carry this replay unchanged: card repayments of
0.00 (idle months), and paid dates up to 240 days after the anchor (status 8), i.e. in the
future if the anchor is today (an anchor at least 240 days back avoids the second).

Split: ``is_test(row)`` (``ID % 5 == 0``, 6,000 rows) is reported on; only the train split is
used to fit ``ScoringParams``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from scoring.model.factors import BILL_PAYMENT, CARD_REPAYMENT, PURCHASE, EventFact, ProfileFacts

#: NT$ per euro used to express UCI amounts in EUR (2005 average, about 40).
TWD_PER_EUR = Decimal(40)
#: Calendar months of the data set, oldest first: the statements April..September 2005.
MONTHS = (4, 5, 6, 7, 8, 9)
YEAR = 2005
#: Day of the month a statement is due (repayment months May..September).
DUE_DAY = 15
#: Day of the month the month's purchases are dated.
PURCHASE_DAY = 10
#: Days late per month of delay reported in PAY.
DAYS_PER_MONTH_LATE = 30
#: Where ``anchor`` defaults to: the September 2005 due date, i.e. no shift.
DEFAULT_ANCHOR = date(YEAR, 9, DUE_DAY)
#: The date a replayed client is scored on (``compute_base``'s ``as_of``): the last due date of
#: the data set, when the September statement's outcome is known. A history shifted by
#: ``anchor`` is scored on ``anchor`` and scores exactly the same.
AS_OF = DEFAULT_ANCHOR
ISSUER = "Card issuer"
#: The profile a replayed client gets: complete. UCI has no profile data, and a profile shared
#: by every client cannot change a ranking; complete lets behaviour span the whole 350-950.
UCI_PROFILE = ProfileFacts(email_verified=True, phone=True, city=True, avatar=True, bio=True)

_CENT = Decimal("0.01")
_NOON = time(12, 0)


@dataclass(frozen=True)
class UciRow:
    """The behaviour columns of one client, each tuple in calendar order April..September.

    ``pay_status`` is PAY (-2..8), ``bill`` BILL_AMT and ``paid`` PAY_AMT in NT$; ``default``
    is Y (payment default in October 2005). Nothing else of the row is kept.
    """

    id: int
    pay_status: tuple[int, ...]
    bill: tuple[int, ...]
    paid: tuple[int, ...]
    default: bool


def is_test(row: UciRow) -> bool:
    """The fixed split: ``ID % 5 == 0`` is the test split, the rest is train."""
    return row.id % 5 == 0


def _parse(record: dict[str, str]) -> UciRow:
    def column(first: int) -> tuple[int, ...]:
        # The file lists September first; keep calendar order (April first).
        return tuple(int(float(record[f"X{first + i}"])) for i in range(5, -1, -1))

    return UciRow(
        id=int(record["ID"]),
        pay_status=column(6),
        bill=column(12),
        paid=column(18),
        default=record["Y"].strip() == "1",
    )


def iter_rows(path: str | Path) -> Iterator[UciRow]:
    """Rows of the UCI CSV (header ``ID,X1..X23,Y``), in file order."""
    with open(path, newline="") as handle:
        for record in csv.DictReader(handle):
            yield _parse(record)


def load_rows(path: str | Path) -> list[UciRow]:
    """All rows of the UCI CSV, in file order (30,000 for the real file)."""
    return list(iter_rows(path))


def to_eur(amount_twd: int) -> Decimal:
    """NT$ to EUR, rounded half-even to the cent."""
    return (Decimal(amount_twd) / TWD_PER_EUR).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def row_events(row: UciRow, *, anchor: date = DEFAULT_ANCHOR) -> list[EventFact]:
    """The Credo events of one client (see the module docstring), oldest first.

    ``anchor``: the date the September 2005 due date is moved to (whole-day shift).
    """
    shift = timedelta(days=(anchor - DEFAULT_ANCHOR).days)
    events: list[EventFact] = []
    for i in range(1, len(MONTHS)):
        month = MONTHS[i]
        status = row.pay_status[i]
        statement, payment = row.bill[i - 1], row.paid[i]
        new_charges = row.bill[i] - statement + payment
        stamp = f"{YEAR}-{month:02d}"

        if new_charges > 0:
            day = date(YEAR, month, PURCHASE_DAY) + shift
            events.append(
                EventFact(
                    kind=PURCHASE,
                    occurred_at=datetime.combine(day, _NOON, tzinfo=UTC),
                    amount=to_eur(new_charges),
                    ref=f"uci-{row.id}-purchase-{stamp}",
                )
            )

        due = date(YEAR, month, DUE_DAY) + shift
        occurred_at = datetime.combine(due, _NOON, tzinfo=UTC)
        paid_date = due + timedelta(days=DAYS_PER_MONTH_LATE * max(status, 0))
        events.append(
            EventFact(
                kind=CARD_REPAYMENT,
                occurred_at=occurred_at,
                amount=to_eur(max(statement, 0)),
                due_date=due,
                paid_date=paid_date,
                ref=f"uci-{row.id}-card-{stamp}",
                label=ISSUER,
            )
        )
        if statement > 0:
            events.append(
                EventFact(
                    kind=BILL_PAYMENT,
                    occurred_at=occurred_at,
                    amount=to_eur(statement),
                    due_date=due,
                    paid_date=paid_date,
                    amount_paid=to_eur(min(max(payment, 0), statement)),
                    ref=f"uci-{row.id}-bill-{stamp}",
                    label=ISSUER,
                )
            )
    return events
