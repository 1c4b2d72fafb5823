"""Block Kit rendering of the core's neutral messages."""

from __future__ import annotations

from datetime import UTC, datetime

from bots.slack import render, views
from shared.messages import Button, Field, Message, moment, refusal

AT = datetime(2026, 12, 10, 16, 50, tzinfo=UTC)
UNIX = int(AT.timestamp())


def test_time_markers_become_slack_dates_with_utc_fallbacks() -> None:
    text = render.mrkdwn(
        f"Starts {moment(AT, 'full')} ({moment(AT, 'relative')}), ends {moment(AT, 'time')} on {moment(AT, 'date')}"
    )
    assert f"<!date^{UNIX}^{{date_short_pretty}} {{time}}|Thu 10 Dec 2026, 16:50 UTC (UTC+00:00)>" in text
    assert f"<!date^{UNIX}^{{ago}}|" in text
    assert f"<!date^{UNIX}^{{time}}|16:50 UTC>" in text
    assert f"<!date^{UNIX}^{{date_short_pretty}}|Thu 10 Dec 2026>" in text
    assert render.plain(f"at {moment(AT, 'time')}") == "at 16:50 UTC"


def test_core_text_is_escaped_linked_and_bold() -> None:
    text = render.mrkdwn(
        "**Roundtable** & friends <3: https://zoom.us/j/1?a=1&b=2. See [the page](https://x.org/p)."
    )
    assert text.startswith("*Roundtable* &amp; friends &lt;3: ")
    assert "<https://zoom.us/j/1?a=1&amp;b=2>." in text
    assert "<https://x.org/p|the page>" in text


def test_people_text_in_fields_is_inert() -> None:
    message = Message(
        "Latest insights:",
        fields=(
            Field("<@U1> · Paris", "<!channel> <t:1:F> *hi*", verbatim=True),
            Field("Starts", f"{moment(AT, 'time')}"),
        ),
    )
    blocks = render.blocks(message)
    first, second = blocks[1]["text"]["text"], blocks[2]["text"]["text"]
    assert first == "*&lt;@U1&gt; · Paris*\n> &lt;!channel&gt; &lt;t:1:F&gt; *hi*"
    assert "<!date^" in second
    assert all(b["text"]["verbatim"] is True for b in blocks if "text" in b)
    assert "&lt;!channel&gt;" in render.fallback(message)


def test_inline_fields_share_sections_of_ten() -> None:
    message = Message("x", fields=tuple(Field(f"f{i}", "v", inline=True) for i in range(12)))
    sections = [b for b in render.blocks(message) if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 2]


def test_buttons_carry_the_command_line_and_respect_limits() -> None:
    buttons = (
        *(Button(f"Register {i}", f"/register s{i}") for i in range(30)),
        Button("Join", url="https://zoom.us/j/1"),
        Button("Cancel", "/unregister s1", style="danger"),
    )
    blocks = render.blocks(Message("pick", buttons=buttons))
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 7]
    elements = [e for a in actions for e in a["elements"]]
    assert elements[0]["value"] == "/register s0" and elements[0]["action_id"] == "rt_cmd_0"
    assert len({e["action_id"] for e in elements}) == len(elements)
    assert all(render.ACTION_PATTERN.match(e["action_id"]) for e in elements)
    join = elements[30]
    assert join["url"] == "https://zoom.us/j/1" and "value" not in join
    assert elements[31]["style"] == "danger"


def test_long_text_is_split_and_never_cut_inside_an_escape() -> None:
    long = "a" * 2995 + "&&&&&&&&" + "b" * 100
    text = render.blocks(Message("x", fields=(Field("n", long, verbatim=True),)))[1]["text"]["text"]
    assert len(text) <= render.SECTION_TEXT_MAX
    assert not text.rstrip("…").endswith(("&", "&a", "&am", "&amp"))
    many = render.blocks(Message("\n".join(f"line {i}" + " x" * 40 for i in range(200))))
    assert len(many) > 1 and all(len(b["text"]["text"]) <= render.SECTION_TEXT_MAX for b in many)


def test_insight_post_frame() -> None:
    from shared.messages import InsightPost

    post = InsightPost(1, "t", "Theme <b>", "<!here> & more", None, "Medellín", "discord", AT)
    blocks = render.insight_blocks(post)
    shown = " ".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in blocks)
    assert "&lt;!here&gt; &amp; more" in shown
    assert "Theme &lt;b&gt;" in shown and "anonymous · Medellín · via Discord" in shown
    assert "<!" not in render.insight_fallback(post)


def test_modal_round_trip_and_errors() -> None:
    view = views.insight_modal([("a", "A"), ("b", "B")], theme="b", metadata={"channel": "C1"})
    assert view["blocks"][0]["element"]["initial_option"]["value"] == "b"
    view["state"] = {
        "values": {
            "theme": {"value": {"selected_option": {"value": "b"}}},
            "text": {"value": {"value": "Hello"}},
            "city": {"value": {"value": "  "}},
            "anonymous": {"value": {"selected_options": []}},
        }
    }
    form = views.read_insight_form(view)
    assert (form.theme, form.text, form.city, form.anonymous, form.metadata) == (
        "b",
        "Hello",
        None,
        False,
        {"channel": "C1"},
    )
    assert views.form_errors(refusal(f"Try again {moment(AT, 'time')}", error_field="city")) == {
        "city": "Try again 16:50 UTC"
    }
    assert list(views.form_errors(refusal("Slow down", error_field="rate"))) == ["text"]


def test_manifest_offers_every_command_and_the_features_used() -> None:
    import re
    from pathlib import Path

    from shared.commands import COMMANDS

    manifest = (Path(__file__).parents[2] / "manifest.yml").read_text("utf-8")
    assert re.findall(r"^\s+- command: /(\w+)$", manifest, re.M) == list(COMMANDS)
    scopes = set(re.findall(r"^\s+- ([a-z:.]+)\s", manifest, re.M))
    assert {"commands", "chat:write", "im:write", "users:read"} <= scopes
    for setting in (
        "home_tab_enabled: true",
        "socket_mode_enabled: true",
        "is_enabled: true",
        "- app_home_opened",
    ):
        assert setting in manifest


def test_the_insight_modal_is_written_in_the_bound_language() -> None:
    from shared import i18n

    with i18n.using("es"):
        view = views.insight_modal([("a", "A")], metadata={})
    assert view["title"]["text"] == "Compartir un aprendizaje" and view["close"]["text"] == "Cancelar"
    labels = [b["label"]["text"] for b in view["blocks"]]
    assert labels == ["Tema", "Su aprendizaje", "Ciudad", "Nombre"]
    assert views.insight_modal([("a", "A")], metadata={})["title"]["text"] == "Share an insight"
