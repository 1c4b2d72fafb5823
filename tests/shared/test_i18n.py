"""Languages: every message id the code uses is in every catalog; locales resolve to en/fr/es."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from shared import i18n
from shared.identity import Identity
from tests.support import person

ROOT = Path(__file__).parents[2]


def _used_ids() -> set[str]:
    """The message ids the code passes to _(), N_() and ngettext(), as pybabel extracts them."""
    found = set()
    for folder in ("shared", "bots"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / folder), method_map=[("**.py", "python")]
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", [lang for lang in i18n.SUPPORTED if lang != i18n.DEFAULT])
def test_every_message_the_code_uses_is_translated(language):
    with (ROOT / "shared" / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string)) and not m.fuzzy
    }
    missing = sorted(_used_ids() - translated)
    assert missing == [], f"the {language} catalog lacks: {missing}"


def test_locales_are_negotiated_and_unknown_ones_give_english():
    assert i18n.negotiate("fr-FR") == "fr"
    assert i18n.negotiate("es_419") == "es"
    assert i18n.negotiate("de-DE") == "en"
    assert i18n.negotiate(None) == "en"
    with i18n.using("pt-BR"):
        assert i18n._("Join") == "Join"
    with i18n.using("fr"):
        assert i18n._("Join") == "Rejoindre"
        assert i18n.ngettext("it started {n} minute ago", "it started {n} minutes ago", 5) == (
            "elle a commencé il y a 5 minutes"
        )


async def test_the_platform_locale_picks_the_language_and_language_overrides_it(core):
    ana = Identity("console", "local", "ana", "Ana", locale="es-CO")
    reply = await core.respond(ana, line="/mysessions")
    assert reply.text.startswith("Aún no tiene sesiones") and reply.locale == "es"
    done = await core.respond(ana, line="/language fr")
    # a language's name mid-sentence, in the reader's words: "français", not "Français"
    assert done.text == "C'est fait : je vous écrirai en français." and done.locale == "fr"
    now = await core.respond(ana, line="/language")
    assert now.text.startswith("Je vous écris en français, comme vous l'avez choisi."), now.text
    english = await core.respond(Identity("console", "local", "bo", "Bo"), line="/language")
    assert english.text.startswith("I write to you in English, as your app asks."), english.text
    schedule = await core.respond(ana, line="/schedule")
    assert "ouverte à tous" in " ".join(f.value for f in schedule.fields)
    refused = await core.respond(ana, line="/language de")
    assert not refused.ok and "`en`" in refused.text and "`es`" in refused.text


async def test_an_unknown_locale_gets_english(core):
    reply = await core.respond(Identity("console", "local", "kim", "Kim", locale="ko-KR"), line="/mysessions")
    assert reply.text.startswith("You have no sessions yet") and reply.locale == "en"


async def test_reminders_are_written_in_the_readers_language(core, clock):
    from datetime import timedelta

    from tests.support import RecordingPort

    port = RecordingPort()
    core.attach(port)
    await core.respond(person("ana"), line="/language es")
    await core.respond(person("ana"), line="/register workshop")
    await clock.set(core.program.session("workshop").starts_at - timedelta(hours=1))
    await core.dispatch_due()
    [text, *_] = port.texts_for("ana")
    assert text.startswith("⏰ Recordatorio:")


def test_program_titles_per_language_fall_back_to_the_default():
    from shared.program import Session

    session = Session.model_validate(
        {
            "id": "atelier",
            "title": {"en": "Workshop", "fr": "Atelier"},
            "description": {"en": "By registration."},
            "start": "2026-12-10T17:50:00",
            "minutes": 40,
            "access": "open",
            "join_url": "https://meet.example.org/a",
        }
    )
    assert session.title == "Workshop"
    with i18n.using("fr"):
        assert session.shown_title() == "Atelier"
        assert session.shown_description() == "By registration."
    with i18n.using("es"):
        assert session.shown_title() == "Workshop"


async def test_refusals_are_written_in_the_readers_language(core, clock):
    from datetime import timedelta

    ana = Identity("console", "local", "ana", "Ana", locale="fr-FR")
    assert (await core.respond(ana, line="register workshop")).text == (
        "Les commandes commencent par `/`. Essayez `/help`."
    )
    many = await core.respond(ana, line="/mysessions a b")
    assert many.text.startswith("`/mysessions` prend moins de mots.") and many.locale == "fr"
    unknown = await core.respond(ana, line="/register nope")
    assert unknown.text.startswith("Il n'y a pas de session `nope`. Choisissez parmi")
    await core.respond(ana, line="/language es")
    assert (await core.respond(ana, line="/nope")).text.startswith("No existe el comando `/nope`")
    await clock.set(core.program.session("workshop").starts_at + timedelta(minutes=5))
    closed = await core.respond(ana, line="/register workshop")
    assert closed.text.startswith("La inscripción a ") and "se cerró cuando empezó" in closed.text
    await clock.set(core.program.session("roundtable").ends_at + timedelta(minutes=5))
    ended = await core.respond(ana, line="/register roundtable")
    assert ended.text.endswith("ha terminado.")
