"""``/feedback``: a rating after a session, a lesson, and sharing it only if the person says so."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from shared import feedback, insights, questions, registrations, replies
from shared.commands import Invocation, handler
from shared.errors import Refusal
from shared.i18n import _
from shared.messages import Form, FormField, Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("feedback")
async def give_feedback(core: Roundtable, inv: Invocation) -> Message:
    session = registrations.session_or_raise(core.program, inv.args.get("session", ""))
    if session.cancelled:
        raise Refusal(replies.session_cancelled(core.program, session), "session")
    rating = feedback.rating_of(inv.args.get("rating", ""))
    if rating is None:
        raise feedback.FeedbackError(replies.feedback_rating(), "rating")
    now = core.now()
    if now < session.starts_at:
        raise feedback.FeedbackError(replies.feedback_too_early(session), "session")
    answers = questions.given(inv.args)
    typed = inv.args.get("text")
    lesson = answers.get("lesson") if answers is not None else typed
    field = "answer.lesson" if answers is not None else "text"
    if lesson is not None:
        lesson = insights.clean_text(lesson)
        if len(lesson) > feedback.MAX_TEXT:
            raise Refusal(replies.answer_too_long(_(replies.LESSON), feedback.MAX_TEXT, len(lesson)), field)
    # sharing is only ever the person's explicit pick in the form
    choice = (answers or {}).get("share", "")
    theme = next((t for t in core.program.themes if t.name == choice), None)
    async with core.db.transaction() as conn:
        rated = await feedback.give(
            conn, session, inv.identity, rating, lesson, now, not_held=replies.feedback_not_held(session)
        )
        if theme is not None and lesson:
            await insights.submit(
                conn, core.program, inv.identity, theme.id, lesson, None, False, core.limits, now
            )
    if theme is not None and lesson:
        core.queued()
    if answers is not None:
        rated = dataclasses.replace(rated, again=False)  # the form completes the rating just given
    if answers is None and typed is None:
        form = Form(
            title=replies.feedback_form_title(session),
            command="feedback",
            args=(("session", session.id), ("rating", str(rating))),
            fields=(
                FormField("answer.lesson", _(replies.LESSON), False, (), feedback.MAX_TEXT, rated.text or ""),
                FormField(
                    "answer.share",
                    _(replies.SHARE),
                    False,
                    (_(replies.KEEP_PRIVATE), *(t.name for t in core.program.themes)),
                    100,
                    _(replies.KEEP_PRIVATE),
                ),
            ),
            submit=replies.feedback_submit(),
        )
        return Message(text=replies.feedback_thanks(session, rated, None, ask=True).text, form=form)
    return replies.feedback_thanks(session, rated, theme.name if theme and lesson else None, ask=False)
