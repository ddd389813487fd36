"""``seleksi results rank``: the pure ranking, offline (scoring/ranking.py)."""

from __future__ import annotations

from pathlib import Path

import click

from exam.cli_log import BadInput
from scoring.ranking import RulesError, rank, ranking_csv, read_scores_csv, rules_from_text


@click.group()
def results() -> None:
    """Selection results: the ranking per formation."""


@results.command("rank")
@click.argument("scores", type=click.Path(dir_okay=False))
@click.option("--rules", "rules_path", required=True, type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Write the ranking CSV here.")
def rank_command(scores: str, rules_path: str, out: str | None) -> None:
    """Rank SCORES.csv (person_id,formation,track,<section>,…) by RULES.json: the same
    function the committee's publication uses. Writes person_id,formation,total,passed,
    rank,proceeds."""
    try:
        rules = rules_from_text(Path(rules_path).read_text(encoding="utf-8"), rules_path)
        table = read_scores_csv(Path(scores).read_text(encoding="utf-8"), scores, rules.sections)
        text = ranking_csv(rank(table, rules))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(str(exc)) from None
    except RulesError as exc:
        raise BadInput(str(exc)) from None
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"{out}: {text.count(chr(10)) - 1} applicants")
    else:
        click.echo(text, nl=False)
