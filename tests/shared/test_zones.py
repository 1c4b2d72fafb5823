"""Each person reads times in their own zone: /timezone, what platforms report, DMs."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from rich.console import Console

from bots.console.render import render
from shared import zones
from shared.identity import Identity
from tests.support import RecordingPort, person


async def test_timezone_with_no_argument_says_none_is_chosen(core):
    reply = await core.respond(person("alice"), line="/timezone")
    assert reply.ok
    assert "not chosen a time zone" in reply.text and "Europe/Paris" in reply.text
    assert "/timezone America/Bogota" in reply.text
    assert reply.zone is None


async def test_a_chosen_zone_is_kept_and_shown_on_every_reply(core):
    alice = person("alice")
    done = await core.respond(alice, line="/timezone america/bogota")
    assert done.ok and "America/Bogota" in done.text
    assert done.zone == "America/Bogota"  # the answer already reads in the new zone
    shown = await core.respond(alice, line="/timezone")
    assert "America/Bogota, as you chose" in shown.text
    schedule = await core.respond(alice, line="/schedule")
    assert schedule.zone == "America/Bogota"
    # someone else is untouched
    assert (await core.respond(person("bob"), line="/schedule")).zone is None


async def test_a_bad_zone_is_refused_with_an_example_and_suggestions(core):
    refused = await core.respond(person("alice"), line="/timezone America/Bogata")
    assert not refused.ok and refused.error_field == "zone"
    assert "America/Bogota" in refused.text  # the example, and the close match
    assert "Europe/London" in refused.text  # the event's cities
    assert (await core.respond(person("alice"), line="/timezone")).zone is None


async def test_the_platform_zone_counts_until_the_person_chooses(core):
    carla = Identity("console", "local", "carla", "Carla", zone="America/Bogota")
    await core.respond(carla, line="/register roundtable")
    shown = await core.respond(carla, line="/timezone")
    assert "America/Bogota, as your app reports it" in shown.text
    await core.respond(carla, line="/timezone Europe/London")
    assert (await core.respond(carla, line="/mysessions")).zone == "Europe/London"


async def test_reminders_reach_the_reader_with_their_zone(core, clock):
    port = RecordingPort()
    core.attach(port)
    carla = Identity("console", "local", "carla", "Carla", zone="America/Bogota")
    await core.respond(carla, line="/register workshop")
    session = core.program.session("workshop")
    await clock.set(session.starts_at - timedelta(hours=1))
    await core.dispatch_due()
    assert port.direct and all(r.zone == "America/Bogota" for r, _ in port.direct)


def test_the_console_names_the_zone_it_shows(core, clock):
    from shared.messages import moment, reply

    at = core.program.session("workshop").starts_at
    message = reply(f"starts {moment(at, 'full')}")
    out = Console(record=True, width=200)
    out.print(render(message, ZoneInfo("America/Bogota"), now=clock.now()))
    assert "11:50 America/Bogota (UTC-05:00)" in out.export_text()


def test_zone_suggestions_put_the_event_cities_first():
    assert zones.suggestions("", ("Europe/Paris", "America/Bogota"))[:2] == ["Europe/Paris", "America/Bogota"]
    assert "America/Bogota" in zones.suggestions("bogo")
    assert zones.canonical("europe/paris") == "Europe/Paris"
    assert zones.canonical("Mars/Olympus") is None
    assert zones.canonical("") is None


def test_the_console_formats_dates_in_the_readers_language(core, clock):
    from shared.messages import moment, reply

    at = core.program.session("workshop").starts_at
    out = Console(record=True, width=200)
    out.print(render(reply(moment(at, "full")), ZoneInfo("America/Bogota"), now=clock.now(), locale="fr"))
    assert "jeu. 10 déc. 2026, 11:50 America/Bogota" in out.export_text()
