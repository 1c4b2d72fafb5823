"""The tables. Every timestamp is stored in UTC; the program's IANA zone is kept beside session times."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.sql.expression import false as sa_false
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a zone")
        value = value.astimezone(UTC)
        # SQLite has no zone type: keep naive UTC so that text order is time order
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # what the person chose (/timezone, /language); wins over what a platform says
    Column("zone", String(64)),
    Column("locale", String(16)),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("platform", String(20), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("dm_channel", String(64)),
    # what the account's platform last said about its zone and language
    Column("zone", String(64)),
    Column("locale", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "workspace", "user_id", name="uq_identities_account"),
)

# A mirror of the program's sessions: the row to lock when seats are counted, and the
# last known times, so that a moved session is noticed when a new program is loaded.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(50), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("access", String(20), nullable=False),
    Column("capacity", Integer),
    Column("in_program", Boolean, nullable=False, default=True),
    # the program cancelled it and its registrants were told (once)
    Column("cancelled", Boolean, nullable=False, default=False, server_default=false()),
    # the people who held a seat or followed it were asked for feedback (once, when it ended)
    Column("feedback_asked", Boolean, nullable=False, default=False, server_default=false()),
    Column("updated_at", UTCDateTime, nullable=False),
    # the iCalendar SEQUENCE of the session's entry: it rises each time the session moves
    Column("calendar_sequence", Integer, nullable=False, default=0, server_default="0"),
)

registrations = Table(
    "registrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(50), ForeignKey("sessions.id"), nullable=False),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    # the account they registered from: where their reminders and promotion go
    Column("identity_id", Integer, ForeignKey("identities.id"), nullable=False),
    Column("status", String(20), nullable=False),  # confirmed | waitlisted | following
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    # answers to the session's questions, as JSON {question id: answer}
    Column("answers", Text),
    # how it was made: NULL by a command (/register); a neutral word for a platform gesture
    # ("interested": a mark on a server's event), which only that gesture undoes
    Column("via", String(20)),
    UniqueConstraint("session_id", "person_id", name="uq_registrations_seat"),
    Index("ix_registrations_session_status", "session_id", "status", "id"),
)

# The durable queue of everything the bot sends on its own: reminders, promotions,
# "session moved" notices, announcements, and insight posts into theme channels.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # reminder | … | insight | unpost
    Column("session_id", String(50)),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="SET NULL")),
    Column("identity_id", Integer, ForeignKey("identities.id", ondelete="SET NULL")),
    Column("insight_id", Integer, ForeignKey("insights.id", ondelete="CASCADE")),
    # where it goes: a user on a platform, or a channel for insights
    Column("platform", String(20), nullable=False),
    Column("workspace", String(64)),
    Column("recipient", String(64), nullable=False),
    Column("offset_seconds", Integer),
    Column("body", Text),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(20), nullable=False, default="pending"),  # pending|sending|sent|failed|skipped
    Column("reason", String(40)),
    Column("detail", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(64)),
    Column("claimed_at", UTCDateTime),
    # a claim is a short lease, renewed while sending; past it, another dispatcher recovers the row
    Column("lease_until", UTCDateTime),
    # 0: personal messages (reminders, promotions, moves) first; 1: announcements and insight posts
    Column("priority", Integer, nullable=False, default=0, server_default="0"),
    # the platform may already have it (a send was cut off): check before sending again
    Column("unsure", Boolean, nullable=False, default=False, server_default=sa_false()),
    Column("finished_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    # the platform's reference of what was posted (an insight post), or of the post to take
    # down (an "unpost": only a channel and this, naming nobody)
    Column("ref", String(100)),
    # serves the claim: state and platform by equality, then priority, due_at, id in order
    Index("ix_outbox_claim", "state", "platform", "priority", "due_at", "id"),
    Index("ix_outbox_person_session", "person_id", "session_id"),
)

insights = Table(
    "insights",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("theme_id", String(50), nullable=False),
    Column("text", Text, nullable=False),
    Column("city", String(80)),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="SET NULL")),
    Column("identity_id", Integer, ForeignKey("identities.id", ondelete="SET NULL")),
    Column("platform", String(20), nullable=False),
    Column("author_name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_insights_theme_created", "theme_id", "created_at"),
    Index("ix_insights_person_created", "person_id", "created_at"),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("identity_id", Integer, ForeignKey("identities.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# The platform gestures acted on (a mark of "Interested" on a session's event): a re-sync
# compares a platform's marks with these, so a follow given back (by /unregister or
# /forgetme) stays given back
marks = Table(
    "marks",
    metadata,
    # a one-way fingerprint of platform, workspace and user id (shared.marks): nothing that
    # names the person, so the row can outlive an erasure and keep it honoured
    Column("account", String(64), primary_key=True),
    Column("session_id", String(50), ForeignKey("sessions.id"), primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("via", String(20), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Counts that outlive the rows they count: what erasure and retention removed, by kind
# ("insights" by theme, "confirmed"/"waitlisted"/"following" by session), naming nobody.
tallies = Table(
    "tallies",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("key", String(50), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
)

# One line per erasure or purge, for the organizers' accountability: what was removed and
# what the bot could not remove (channel posts on a platform), never whose data it was.
erasures = Table(
    "erasures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("via", String(20), nullable=False),  # self | organizer | retention
    Column("summary", Text, nullable=False),  # JSON: counts, and posts left in place
)

# One rating (1-5) and an optional lesson per person and session, asked when it ends.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(50), nullable=False),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("rating", Integer, nullable=False),
    Column("text", Text),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("session_id", "person_id", name="uq_feedback_once"),
)

# Sessions mirrored as events on a platform (a server's scheduled events): the platform's id,
# so that a restart updates the event instead of creating another, and what was last sent.
platform_events = Table(
    "platform_events",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("workspace", String(64), primary_key=True),
    Column("session_id", String(50), primary_key=True),
    Column("external_id", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
