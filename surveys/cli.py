"""`hearth surveys …`: the survey commands that need neither Slack nor the database (so far: `check`)."""

from __future__ import annotations

import sys

import click

from surveys.loader import InstrumentError, load_instrument


@click.group("surveys")
def surveys() -> None:
    """Anonymous belonging surveys."""


@surveys.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Check a survey FILE (YAML): prints 'ok: N questions' or each problem with its line."""
    try:
        instrument = load_instrument(file)
    except InstrumentError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        sys.exit(1)
    counted = len(instrument.counted)
    free = len(instrument.questions) - counted
    detail = f" ({counted} counted, {free} free text)" if free else ""
    click.echo(f"ok: {len(instrument.questions)} questions{detail} in '{instrument.name}' v{instrument.version}, "
               f"results shown from {instrument.settings.min_responses} respondents")
