"""Slack views: the insight modal and the App Home tab."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bots.slack.render import VIEW_BLOCKS_MAX, blocks, escape, plain
from shared.i18n import _
from shared.messages import Form, Message

INSIGHT_CALLBACK = "rt_insight"
# the block ids double as the names the core uses in Message.error_field
INSIGHT_BLOCKS = ("theme", "text", "city", "anonymous")
VALUE = "value"  # the action_id of every input element in the modal
OPTION_TEXT_MAX = 75
TEXT_INPUT_MAX = 3000
CITY_MAX = 100


def _plain(text: str, limit: int = OPTION_TEXT_MAX) -> dict[str, Any]:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text, "emoji": True}


def insight_modal(
    themes: Iterable[tuple[str, str]],
    *,
    theme: str | None = None,
    text: str = "",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The modal behind ``/insight`` with no text: theme, text, city, anonymous."""
    options = [{"text": _plain(name), "value": theme_id} for theme_id, name in themes][:100]
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": VALUE,
        "placeholder": _plain(_("Pick a theme")),
        "options": options,
    }
    chosen = next((o for o in options if o["value"] == theme), None)
    if chosen is not None:
        select["initial_option"] = chosen
    text_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": VALUE,
        "multiline": True,
        "max_length": TEXT_INPUT_MAX,
        "placeholder": _plain(_("What did your city learn?")),
    }
    if text:
        text_input["initial_value"] = text[:TEXT_INPUT_MAX]
    return {
        "type": "modal",
        "callback_id": INSIGHT_CALLBACK,
        "title": _plain(_("Share an insight"), 24),
        "submit": _plain(_("Share"), 24),
        "close": _plain(_("Cancel"), 24),
        "private_metadata": json.dumps(metadata or {})[:3000],
        "blocks": [
            {"type": "input", "block_id": "theme", "label": _plain(_("Theme")), "element": select},
            {"type": "input", "block_id": "text", "label": _plain(_("Your insight")), "element": text_input},
            {
                "type": "input",
                "block_id": "city",
                "optional": True,
                "label": _plain(_("City")),
                "element": {"type": "plain_text_input", "action_id": VALUE, "max_length": CITY_MAX},
            },
            {
                "type": "input",
                "block_id": "anonymous",
                "optional": True,
                "label": _plain(_("Name")),
                "element": {
                    "type": "checkboxes",
                    "action_id": VALUE,
                    "options": [{"text": _plain(_("Post without my name")), "value": "anonymous"}],
                },
            },
        ],
    }


@dataclass(frozen=True, slots=True)
class InsightForm:
    theme: str
    text: str
    city: str | None
    anonymous: bool
    metadata: dict[str, str]


def read_insight_form(view: dict[str, Any]) -> InsightForm:
    """The submitted values; missing or odd pieces read as empty for the core to judge."""

    def as_dict(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def as_str(value: Any) -> str:
        return value if isinstance(value, str) else ""

    values = as_dict(as_dict(view.get("state")).get("values"))

    def element(block: str) -> dict[str, Any]:
        return as_dict(as_dict(values.get(block)).get(VALUE))

    selected = as_dict(element("theme").get("selected_option"))
    city = as_str(element("city").get("value")).strip()
    checked = element("anonymous").get("selected_options")
    try:
        metadata = json.loads(as_str(view.get("private_metadata")) or "{}")
    except ValueError:
        metadata = {}
    return InsightForm(
        theme=as_str(selected.get("value")),
        text=as_str(element("text").get("value")),
        city=city or None,
        anonymous=isinstance(checked, list)
        and any(isinstance(o, dict) and o.get("value") == "anonymous" for o in checked),
        metadata={k: v for k, v in as_dict(metadata).items() if isinstance(v, str)},
    )


def form_errors(message: Message) -> dict[str, str]:
    """A refusal as ``response_action: errors``: the message under the field it concerns."""
    block = message.error_field if message.error_field in INSIGHT_BLOCKS else "text"
    text = plain(message.text).strip() or _("Please check this field.")
    return {block: text if len(text) <= 150 else text[:149] + "…"}


def home_view(sections: Iterable[Message], *, title: str, notice: Message | None = None) -> dict[str, Any]:
    """The App Home tab: an optional notice (the result of a click), then the sections."""
    out: list[dict[str, Any]] = [{"type": "header", "text": _plain(title, 150)}]
    if notice is not None:
        out.extend(blocks(notice))
        out.append({"type": "divider"})
    for i, message in enumerate(sections):
        if i:
            out.append({"type": "divider"})
        out.extend(blocks(message, limit=VIEW_BLOCKS_MAX))
    if len(out) > VIEW_BLOCKS_MAX:
        out = out[: VIEW_BLOCKS_MAX - 1]
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(_("…and more"))}]})
    return {"type": "home", "blocks": out}


FORM_CALLBACK = "rt_form"


def form_modal(form: Form, metadata: dict[str, str]) -> dict[str, Any]:
    """A core form as a modal: a select for fields with choices, a text input otherwise.

    Block ids are the form's field ids, so that the core's refusal lands under its field."""
    blocks_: list[dict[str, Any]] = []
    for field in form.fields:
        element: dict[str, Any]
        if field.choices:
            options = [{"text": _plain(c), "value": c} for c in field.choices][:100]
            element = {"type": "static_select", "action_id": VALUE, "options": options}
            chosen = next((o for o in options if o["value"] == field.value), None)
            if chosen is not None:
                element["initial_option"] = chosen
        else:
            element = {"type": "plain_text_input", "action_id": VALUE, "max_length": field.max_length}
            if field.value:
                element["initial_value"] = field.value[: field.max_length]
        blocks_.append(
            {
                "type": "input",
                "block_id": field.id,
                "optional": not field.required,
                "label": _plain(field.label),
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": _plain(form.title, 24),
        "submit": _plain(form.submit, 24),
        "close": _plain(_("Cancel"), 24),
        "private_metadata": json.dumps({**metadata, "command": form.command, "args": dict(form.args)})[:3000],
        "blocks": blocks_,
    }


def read_form(view: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
    """The command, its arguments with every field's answer (empty when skipped), and metadata."""

    def as_dict(value: Any) -> dict[str, Any]:  # odd pieces of a signed payload read as empty
        return value if isinstance(value, dict) else {}

    values = as_dict(as_dict(view.get("state")).get("values"))
    metadata_text = view.get("private_metadata")
    try:
        metadata = json.loads(metadata_text if isinstance(metadata_text, str) and metadata_text else "{}")
    except ValueError:
        metadata = {}
    metadata = as_dict(metadata)
    args = {str(k): str(v) for k, v in as_dict(metadata.pop("args", None)).items()}
    for block_id, block in values.items():
        element = as_dict(as_dict(block).get(VALUE))
        selected = as_dict(element.get("selected_option"))
        args[str(block_id)] = str(element.get("value") or selected.get("value") or "")
    command = str(metadata.pop("command", ""))
    return command, args, {k: v for k, v in metadata.items() if isinstance(v, str)}


def field_errors(message: Message, fields: Iterable[str]) -> dict[str, str] | None:
    """A refusal under the form field it concerns, or None when it concerns no field."""
    if message.error_field not in set(fields):
        return None
    text = plain(message.text).strip() or _("Please check this field.")
    return {str(message.error_field): text if len(text) <= 150 else text[:149] + "…"}
