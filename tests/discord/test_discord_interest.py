""" "Interested" on a session's event: a follow of an open session (with reminders), and its end."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import select

from bots.discord.adapter import DiscordAdapter
from shared import people, privacy
from shared.app import Roundtable
from shared.store.schema import identities, marks, outbox, registrations
from tests.discord.discord_standin import DiscordStandin, StandinUser
from tests.support import discord_settings

USERS = r"/guilds/\d+/scheduled-events/\d+/users"


def event_of(standin: DiscordStandin, core: Roundtable, session_id: str) -> str:
    session = core.program.session(session_id)
    assert session is not None
    return next(e["id"] for e in standin.scheduled_events.values() if e["name"] == session.title)


async def places(core: Roundtable, session_id: str) -> dict[str, tuple[str, str | None]]:
    """Discord user id -> (status, via) of the places in a session."""
    async with core.db.transaction() as conn:
        rows = await conn.execute(
            select(identities.c.user_id, registrations.c.status, registrations.c.via)
            .join(identities, identities.c.id == registrations.c.identity_id)
            .where(registrations.c.session_id == session_id)
        )
        return {r.user_id: (r.status, r.via) for r in rows}


async def reminders(core: Roundtable, user: StandinUser) -> list[Any]:
    async with core.db.transaction() as conn:
        rows = await conn.execute(
            select(outbox).where(outbox.c.kind == "reminder", outbox.c.recipient == user.id)
        )
        return list(rows)


async def settled(adapter: DiscordAdapter, seen: int) -> None:
    """Wait until the bot got ``seen`` marks over the gateway and handled them."""
    await asyncio.wait_for(adapter.interest.idle(seen), 5)


async def start(standin: DiscordStandin, core: Roundtable) -> DiscordAdapter:
    adapter = DiscordAdapter(core, discord_settings(standin), guild_ready_timeout=0.05)
    await adapter.start()
    return adapter


async def test_interested_follows_an_open_session_with_reminders_and_unmarking_ends_it(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    event = event_of(standin, discord_core, "roundtable")
    await standin.mark_interested(alice, event)
    await standin.wait_for(lambda: standin.dm_bodies(alice))
    assert await places(discord_core, "roundtable") == {alice.id: ("following", "interested")}
    assert len(await reminders(discord_core, alice)) == len(discord_core.program.reminders.offsets)
    [dm] = standin.dm_bodies(alice)
    assert "following" in (dm.get("content") or "") + str(dm.get("embeds"))
    async with discord_core.db.transaction() as conn:
        name = (await conn.execute(select(identities.c.display_name))).scalar_one()
    assert name == "Alice"  # read with GET /users/{id}: the gateway event carries only the id

    await standin.unmark_interested(alice, event)
    await settled(bot, 2)
    assert await places(discord_core, "roundtable") == {}
    assert [r for r in await reminders(discord_core, alice) if r.state == "pending"] == []


async def test_a_register_follow_survives_unmarking(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    bob = standin.add_user("bob")
    await standin.wait_answer(await standin.slash(bob, "register", session="roundtable"))
    event = event_of(standin, discord_core, "roundtable")
    await standin.mark_interested(bob, event)
    await settled(bot, 1)
    await standin.unmark_interested(bob, event)
    await settled(bot, 2)
    assert await places(discord_core, "roundtable") == {bob.id: ("following", None)}
    assert standin.dm_bodies(bob) == []  # nothing new to say: they follow it already

    # a follow made by a mark becomes the person's own once they /register it
    carol = standin.add_user("carol")
    await standin.mark_interested(carol, event)
    await standin.wait_for(lambda: standin.dm_bodies(carol))
    await standin.wait_answer(await standin.slash(carol, "register", session="roundtable"))
    await standin.unmark_interested(carol, event)
    await settled(bot, 4)
    assert (await places(discord_core, "roundtable"))[carol.id] == ("following", None)


async def test_a_capped_session_takes_no_seat_and_points_to_register(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    dave = standin.add_user("dave")
    await standin.mark_interested(dave, event_of(standin, discord_core, "workshop"))
    [dm] = await standin.wait_for(lambda: standin.dm_bodies(dave))
    assert await places(discord_core, "workshop") == {}
    assert "/register workshop" in str(dm)
    assert any(
        b.get("custom_id") == "rt:/register workshop" for row in dm["components"] for b in row["components"]
    )


async def test_marks_on_events_that_are_no_sessions_are_ignored(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    erin = standin.add_user("erin")
    await standin.mark_interested(erin, standin.add_scheduled_event("Game night"))
    await standin.dispatch(
        "GUILD_SCHEDULED_EVENT_USER_ADD",
        {"guild_scheduled_event_id": "1", "user_id": erin.id, "guild_id": "2"},
    )
    await standin.dispatch("GUILD_SCHEDULED_EVENT_USER_ADD", {"user_id": erin.id})  # malformed
    await settled(bot, 3)
    assert await places(discord_core, "roundtable") == {}
    assert standin.dm_bodies(erin) == []
    body = await standin.wait_answer(await standin.slash(erin, "mysessions"))  # still serving
    assert body


async def test_a_failed_dm_keeps_the_follow(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    frank = standin.add_user("frank", dms_closed=True)
    await standin.mark_interested(frank, event_of(standin, discord_core, "roundtable"))
    await settled(bot, 1)
    assert await places(discord_core, "roundtable") == {frank.id: ("following", "interested")}


async def test_start_resyncs_marks_made_while_away(standin: DiscordStandin, discord_core: Roundtable) -> None:
    adapter = await start(standin, discord_core)
    event = event_of(standin, discord_core, "roundtable")
    gone, kept, own = standin.add_user("gone"), standin.add_user("kept"), standin.add_user("own")
    for user in (gone, kept):
        await standin.mark_interested(user, event)
    await standin.wait_answer(await standin.slash(own, "register", session="roundtable"))
    await settled(adapter, 2)
    await adapter.close()

    # while the bot is away: one takes the mark off, 150 newcomers put it on (two pages)
    await standin.unmark_interested(gone, event, notify=False)
    newcomers = [standin.add_user(f"n{i}") for i in range(150)]
    for user in newcomers:
        await standin.mark_interested(user, event, notify=False)
    before = len(standin.find("GET", USERS))
    adapter = await start(standin, discord_core)
    try:
        held = await places(discord_core, "roundtable")
        assert gone.id not in held
        assert held[kept.id] == held[newcomers[-1].id] == ("following", "interested")
        assert held[own.id] == ("following", None)  # /register's own follow is not the list's
        assert len(held) == 2 + 150
        pages = standin.find("GET", USERS)[before:]
        listed = sorted(standin.interested[event], key=int)
        assert [p.query.get("after") for p in pages] == [None, listed[99]]  # two pages of at most 100
        assert all(p.query["limit"] == "100" for p in pages)
        async with discord_core.db.transaction() as conn:
            name = (
                await conn.execute(
                    select(identities.c.display_name).where(identities.c.user_id == newcomers[0].id)
                )
            ).scalar_one()
        assert name == "N0"  # the list carries the names
        assert all(standin.dm_bodies(u) == [] for u in newcomers)  # silent: reminders will come
    finally:
        await adapter.close()


async def test_a_follow_given_back_by_command_stays_given_back_across_a_restart(
    standin: DiscordStandin, discord_core: Roundtable
) -> None:
    """Keeping the mark but typing /unregister is a choice: the next start's re-sync respects it;
    taking the mark off and putting it back while away is a new mark, and follows again."""
    adapter = await start(standin, discord_core)
    event = event_of(standin, discord_core, "roundtable")
    dana, eli = standin.add_user("dana"), standin.add_user("eli")
    for user in (dana, eli):
        await standin.mark_interested(user, event)
    await settled(adapter, 2)
    for user in (dana, eli):
        await standin.wait_answer(await standin.slash(user, "unregister", session="roundtable"))
    assert await places(discord_core, "roundtable") == {}
    await adapter.close()

    # while away: eli takes the mark off and puts it back; dana keeps hers
    await standin.unmark_interested(eli, event, notify=False)
    adapter = await start(standin, discord_core)
    await adapter.close()
    await standin.mark_interested(eli, event, notify=False)
    adapter = await start(standin, discord_core)
    try:
        assert await places(discord_core, "roundtable") == {eli.id: ("following", "interested")}
        async with discord_core.db.transaction() as conn:
            account = await people.find(conn, adapter.identity_of(dana.id, "Dana"))
            assert account is not None
            kept = await privacy.export(conn, account.person_id)
        assert [(m["session"], m["kind"]) for m in kept["marks"]] == [("roundtable", "interested")]
    finally:
        await adapter.close()


async def test_a_failed_resync_is_logged_and_the_bot_still_serves(
    standin: DiscordStandin, discord_core: Roundtable, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = await start(standin, discord_core)
    event = event_of(standin, discord_core, "roundtable")
    kept = standin.add_user("kept")
    await standin.mark_interested(kept, event)
    await settled(adapter, 1)
    await adapter.close()

    caplog.set_level(logging.WARNING, logger="bots.discord")
    # (not a 5xx: discord.py retries those for seconds before giving up)
    standin.fail_next("GET", USERS, 403, {"message": "Missing Access", "code": 50001})
    adapter = await start(standin, discord_core)
    try:
        assert "re-syncing the Interested marks of roundtable failed" in caplog.text
        # a list not read changes nothing
        assert await places(discord_core, "roundtable") == {kept.id: ("following", "interested")}
        body = await standin.wait_answer(await standin.slash(kept, "mysessions"))
        assert body
    finally:
        await adapter.close()


async def test_the_standin_lists_marks_as_discord_does(standin: DiscordStandin, bot: DiscordAdapter) -> None:
    """The stand-in's users endpoint: paging, with_member, and 10070 for an unknown event."""
    event = standin.add_scheduled_event("Game night")
    users = [standin.add_user(f"u{i}") for i in range(3)]
    for user in users:
        await standin.mark_interested(user, event)
    http = bot.client.http
    page = await http.get_scheduled_event_users(int(standin.guild_id), int(event), 2, True)
    assert [e["user"]["id"] for e in page] == [u.id for u in users[:2]] and "member" in page[0]
    rest = await http.get_scheduled_event_users(
        int(standin.guild_id), int(event), 2, False, after=int(users[1].id)
    )
    assert [e["user"]["id"] for e in rest] == [users[2].id] and "member" not in rest[0]
    import discord

    with pytest.raises(discord.NotFound) as caught:
        await http.get_scheduled_event_users(int(standin.guild_id), 1, 2, False)
    assert caught.value.code == 10070


async def test_a_new_gateway_session_resyncs_the_marks_it_missed(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bots.discord.adapter as discord_adapter

    monkeypatch.setattr(discord_adapter, "RECONNECT_BASE", 0.1)
    event = event_of(standin, discord_core, "roundtable")
    late = standin.add_user("late")
    identifies = len(standin.identifies)
    await standin.dispatch("CHANNEL_CREATE", {"type": 0, "guild_id": standin.guild_id})  # the loop ends
    await standin.mark_interested(late, event, notify=False)  # while the bot is reconnecting
    await standin.wait_for(lambda: len(standin.identifies) > identifies, within=10)
    await standin.wait_request("GET", USERS, count=2, within=10)  # the start's list, then this one's
    await asyncio.wait_for(bot.interest.idle(), 5)
    assert (await places(discord_core, "roundtable"))[late.id] == ("following", "interested")


async def test_closing_lets_the_mark_being_stored_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shutdown stops the queue, never a mark's transaction half-way."""
    from types import SimpleNamespace

    from bots.discord.interest import Interest, Mark

    started, finished = asyncio.Event(), []

    async def slow_handle(mark: Mark) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.append(mark.user_id)

    interest = Interest(SimpleNamespace(client=SimpleNamespace(user=None)))  # type: ignore[arg-type]
    monkeypatch.setattr(interest, "handle", slow_handle)
    interest.take({"guild_id": "1", "guild_scheduled_event_id": "2", "user_id": "3"}, True)
    interest.take({"guild_id": "1", "guild_scheduled_event_id": "2", "user_id": "4"}, True)
    await started.wait()
    await interest.close()
    assert finished == ["3"]  # the one being stored finished; the queued one waits for the re-sync


async def test_a_full_page_of_the_list_without_user_ids_is_logged_not_raised_at_start(
    standin: DiscordStandin,
    discord_core: Roundtable,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = standin._event_users

    def odd(event_id: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        status, page, headers = real(event_id, query)
        if status == 200 and "after" not in query:  # a full first page, and no user id in it
            return 200, [{"guild_scheduled_event_id": event_id, "user": "?"}] * 100, headers
        return status, page, headers

    monkeypatch.setattr(standin, "_event_users", odd)
    caplog.set_level(logging.WARNING, logger="bots.discord")
    adapter = await start(standin, discord_core)  # the start itself must not fail
    try:
        assert "re-syncing the Interested marks of roundtable failed" in caplog.text
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        await adapter.close()


async def test_a_mark_on_a_vanished_database_stops_the_bot_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    from bots.discord.interest import Interest, Mark
    from shared.store.database import StorageUnavailable

    lost: list[BaseException] = []

    async def vanished(mark: Mark) -> None:
        raise StorageUnavailable("the database file rt.db was removed while the bot was running")

    adapter = SimpleNamespace(
        client=SimpleNamespace(user=None), core=SimpleNamespace(storage_lost=lost.append)
    )
    interest = Interest(adapter)  # type: ignore[arg-type]
    monkeypatch.setattr(interest, "handle", vanished)
    interest.take({"guild_id": "1", "guild_scheduled_event_id": "2", "user_id": "3"}, True)
    await asyncio.wait_for(interest.idle(1), 5)
    await interest.close()
    assert [str(e) for e in lost] == ["the database file rt.db was removed while the bot was running"]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_forgotten_person_keeping_the_mark_is_not_followed_again(
    standin: DiscordStandin, discord_core: Roundtable
) -> None:
    """/forgetme erases the person; the mark acted on stays as a fingerprint naming nobody, so
    the next start's re-sync does not bring them back."""
    adapter = await start(standin, discord_core)
    event = event_of(standin, discord_core, "roundtable")
    alice = standin.add_user("alice")
    await standin.mark_interested(alice, event)
    await settled(adapter, 1)
    await standin.wait_answer(await standin.slash(alice, "forgetme", confirm="confirm"))
    async with discord_core.db.transaction() as conn:
        assert (await conn.execute(select(identities))).fetchall() == []
        [kept] = (await conn.execute(select(marks))).fetchall()
    assert alice.id not in str(tuple(kept))  # a fingerprint, not the user id
    await adapter.close()
    adapter = await start(standin, discord_core)
    try:
        async with discord_core.db.transaction() as conn:
            assert (await conn.execute(select(identities))).fetchall() == []
        assert await places(discord_core, "roundtable") == {}
    finally:
        await adapter.close()


async def test_the_resync_keeps_a_place_claimed_by_command_while_it_ran(discord_core: Roundtable) -> None:
    """The re-sync reads the places, then ends them one by one: a /register in between makes the
    place the person's own, and the re-sync looks again under the lock before ending it."""
    core = discord_core
    alice = DiscordAdapter.identity_of("1300000000000000777", "Alice")
    await core.follow_via(alice, "roundtable", "interested")
    real_run, claimed = core.db.run, []

    async def run(work, **kw):
        if not claimed:  # between the re-sync's read and its first write
            claimed.append("asked")
            core.db.run = real_run  # type: ignore[method-assign]
            claimed.append(await core.register(alice, "roundtable"))
        return await real_run(work, **kw)

    core.db.run = run  # type: ignore[method-assign]
    try:
        done = await core.resync_via("roundtable", "discord", alice.workspace, [], "interested")
    finally:
        core.db.run = real_run  # type: ignore[method-assign]
    assert claimed and done.removed == 0
    assert await places(core, "roundtable") == {alice.user_id: ("following", None)}


async def test_a_person_marked_from_one_linked_account_keeps_the_follow(discord_core: Roundtable) -> None:
    """Two Discord accounts of one person (linked): the mark on either keeps the follow."""
    from shared.handlers.seats import resync_via
    from shared.store.schema import people as people_table

    core = discord_core
    one, two = (DiscordAdapter.identity_of(f"130000000000000088{n}", "Bo") for n in (1, 2))
    await core.follow_via(one, "roundtable", "interested")
    async with core.db.transaction() as conn:
        await people.resolve(conn, two, core.now())  # the second account becomes known
        first, second = (
            await conn.execute(select(identities.c.person_id).order_by(identities.c.id))
        ).scalars()
        await conn.execute(
            identities.update().where(identities.c.person_id == second).values(person_id=first)
        )
        await conn.execute(people_table.delete().where(people_table.c.id == second))
    done = await resync_via(core, "roundtable", "discord", one.workspace, [one], "interested")
    assert done.removed == 0 and await places(core, "roundtable") == {
        one.user_id: ("following", "interested")
    }
