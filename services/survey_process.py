"""A reassessment campaign's duplication survey (3.2(a)) in a process of its own, run by
`services.reassessment.surveyed` as `python -m services.survey_process`.

It reads its order from standard input, one JSON object: the database URL and the batches of
entities. It indexes every existing and pending account once, read by a reader of its own (one
snapshot; on SQLite never the write lock, which the campaign's writer holds meanwhile), then
writes each batch's overlaps to standard output in order, one JSON line per batch (account id
-> its first three overlaps as the findings name them), as the campaign consumes them: the
pipe holds it back when it runs ahead.
"""

from __future__ import annotations

import json
import sys

from sqlmodel import Session

from database import reader
from models.survey import Survey, overlaps_of
from services.candidates import candidates_in


def main() -> None:
    order = json.load(sys.stdin)
    engine = reader(order["url"])
    with Session(engine) as session:
        survey = Survey(candidates_in(session))
    engine.dispose()
    for batch in order["batches"]:
        sys.stdout.write(json.dumps(overlaps_of(survey, batch)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
