"""The roster: "the humans of this channel", for every workflow, at a cost Slack's limits allow.

A channel is listed with `conversations.members` (200 a page) and the listing is kept (`storage.members`),
so membership can be checked later without asking Slack. Profiles (time zone, bot, deactivated, admin) come
from Hearth's own records, kept fresh by `user_change` and `team_join` events (handlers/membership.py); Slack
is asked only about unknown or long-stale people: one `users.info` each when they are few, one paged
`users.list` when they are many (a first listing of a 1,000-member channel costs a handful of calls).

A person whose profile Slack will not give (after the client's retries) is not dropped: they count as a
human on UTC, are listed in `Roster.unreadable`, and admins see them (App Home, `hearth roster`).

A fan-out that must start at once (opening a check-in round, launching a survey to a channel, a buddy round
or its heads-up) asks with `lookups=False`: a channel listed
within `LISTING_FRESH_FOR` is taken from the cache (membership events keep it current), and when more than
`BULK_FROM` people's profiles are unknown they are not looked up first: they count as humans on UTC, are
listed in `Roster.unresolved`, and the delivery worker asks Slack about each as their message's turn comes
(and does not DM a bot or a deactivated account); `warm` fills the cache meanwhile, so few need asking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_app.slack_port import SlackError, SlackPort, UserInfo, user_of
from storage import members
from storage.members import Profile
from storage.models import utcnow

if TYPE_CHECKING:
    from slack_app.services import Services

log = logging.getLogger("hearth.roster")

# Events keep profiles current; this only bounds how long a missed event can leave one wrong.
PROFILE_STALE_AFTER = timedelta(days=30)
# More unknown people than this: list the workspace (200 a page) rather than one users.info each.
BULK_FROM = 25
# A channel listing this recent, kept current by membership events, is used without asking Slack again.
LISTING_FRESH_FOR = timedelta(hours=24)
SLACKBOT = "USLACKBOT"


@dataclass(frozen=True)
class Roster:
    channel_id: str
    humans: list[str]  # people, not bots or deactivated accounts; unreadable ones included
    tz: dict[str, str]  # each human's IANA time zone ("UTC" when Slack never said)
    unreadable: list[str]  # Slack would not give their profile: still here, admins are shown them
    unresolved: tuple[str, ...] = ()  # not looked up yet (`lookups=False`): the delivery worker resolves them


def profile_of(info: UserInfo) -> Profile:
    return Profile(user_id=info.id, tz=info.tz, is_bot=info.is_bot, is_deleted=info.is_deleted,
                   is_admin=info.is_admin or info.is_owner, fields=info.fields)


def is_human(p: Profile) -> bool:
    return not (p.is_bot or p.is_deleted) and p.user_id != SLACKBOT


def channel_roster(services: Services, slack: SlackPort, team_id: str, channel_id: str, *,
                   now: datetime | None = None, lookups: bool = True) -> Roster:
    """List the channel, refresh the profiles Hearth lacks, and keep both. A transient Slack error while
    listing (rate limit, outage) is raised as SlackError for the caller to retry later. With `lookups=False`
    a fresh cached listing is used and unknown profiles are left to the delivery worker (`unresolved`)."""
    now = now or utcnow()
    ids = _cached_listing(services, team_id, channel_id, now) if not lookups else None
    if ids is None:
        ids = list(dict.fromkeys(slack.channel_members(channel_id)))
        members.replace_channel(services.db, team_id, channel_id, ids, now=now)
    unresolved: set[str] = set()
    if lookups:
        profiles, failed = profiles_for(services, slack, team_id, ids, now=now)
    else:
        profiles = known_profiles(services, team_id, ids)
        unknown = [u for u in ids if u not in profiles and u != SLACKBOT]
        if len(unknown) > BULK_FROM:  # too many to ask about now: the worker does, as their turn comes
            unresolved, failed = set(unknown), {}
        else:  # a handful (joined since the last listing): a few users.info within the tier's burst
            fresh, failed = profiles_for(services, slack, team_id, unknown, now=now)
            profiles.update(fresh)
    if failed:
        _learn_own_bot(services, slack, team_id, failed, profiles, now)
    humans, tz, unreadable = [], {}, []
    for user_id in ids:
        p = profiles.get(user_id)
        if p is None:
            if user_id == SLACKBOT:
                continue
            if user_id not in unresolved:
                unreadable.append(user_id)
        elif not is_human(p):
            continue
        humans.append(user_id)
        tz[user_id] = (p.tz if p else None) or "UTC"
    if failed:
        log.warning("roster.unreadable channel=%s count=%s", channel_id, len(failed))
    log.info("roster.listed channel=%s members=%s humans=%s unreadable=%s unresolved=%s", channel_id, len(ids),
             len(humans), len(unreadable), len(unresolved))
    return Roster(channel_id, sorted(humans), tz, sorted(unreadable), tuple(sorted(unresolved)))


def warm(services: Services, slack: SlackPort, team_id: str, user_ids: list[str] | tuple[str, ...]) -> None:
    """Read unresolved profiles in bulk (users.list) after a fan-out's rows are written, so the delivery
    worker finds most of them known. Best effort: what fails here the worker asks about itself."""
    try:
        profiles_for(services, slack, team_id, list(user_ids))
    except SlackError as exc:
        log.info("roster.warm_skipped count=%s error=%s", len(user_ids), exc.error)


def _cached_listing(services: Services, team_id: str, channel_id: str, now: datetime) -> list[str] | None:
    with services.db.session() as s:
        listed = members.listing(s, team_id, channel_id)
    if listed is None or listed[0] < now - LISTING_FRESH_FOR:
        return None
    return listed[1]


def known_profiles(services: Services, team_id: str, user_ids: list[str]) -> dict[str, Profile]:
    """The profiles Hearth has (however old), without asking Slack."""
    with services.db.session() as s:
        return {u: Profile(u, m.tz, m.is_bot, m.is_deleted, m.is_admin)
                for u, m in members.by_id(s, team_id, user_ids).items() if m.profile_at is not None}


def profiles_for(services: Services, slack: SlackPort, team_id: str, user_ids: list[str], *,
                 now: datetime | None = None) -> tuple[dict[str, Profile], dict[str, str]]:
    """Profiles of these people, asking Slack only about unknown or stale ones. Returns the profiles and,
    for those Slack would not describe, the error (a stale profile is still used when a refresh fails)."""
    now = now or utcnow()
    with services.db.session() as s:
        rows = members.by_id(s, team_id, user_ids)
        known = {u: (Profile(u, m.tz, m.is_bot, m.is_deleted, m.is_admin), members.aware(m.profile_at) or now)
                 for u, m in rows.items() if m.profile_at is not None}
    stale_before = now - PROFILE_STALE_AFTER
    wanted = [u for u in user_ids if u not in known or known[u][1] < stale_before]
    fresh: dict[str, Profile] = {}
    failed: dict[str, str] = {}
    bulk = len(wanted) > BULK_FROM
    if bulk:
        wanted_set = set(wanted)
        fresh = {i.id: profile_of(i) for i in slack.list_users() if i.id in wanted_set}  # transient: raised
    rest = [u for u in wanted if u not in fresh]
    if bulk and len(rest) > BULK_FROM:  # not in the workspace's own list (e.g. Slack Connect guests)
        failed = dict.fromkeys(rest, "user_not_found")
        rest = []
    for user_id in rest:
        try:
            fresh[user_id] = profile_of(slack.user_info(user_id))
        except SlackError as exc:  # the client already retried rate limits and outages
            failed[user_id] = exc.error
    members.store_profiles(services.db, team_id, fresh.values(), now=now)
    members.mark_unreadable(services.db, team_id, failed)
    if wanted:
        log.info("roster.profiles_fetched asked=%s read=%s failed=%s bulk=%s", len(wanted), len(fresh),
                 len(failed), bulk)
    profiles = {u: p for u, (p, _) in known.items()}
    profiles.update(fresh)
    return profiles, failed


def _learn_own_bot(services: Services, slack: SlackPort, team_id: str, failed: dict[str, str],
                   profiles: dict[str, Profile], now: datetime) -> None:
    """Hearth's own bot is in every channel it serves; when Slack cannot describe it, ask who Hearth is
    (one auth.test, only then) and remember it as a bot, so it is never counted as a person."""
    try:
        me = slack.auth_test().user_id
    except SlackError:
        return
    if me in failed:
        own = Profile(me, None, is_bot=True, is_deleted=False, is_admin=False)
        members.store_profiles(services.db, team_id, [own], now=now)
        profiles[me] = own
        del failed[me]


def profile_changed(services: Services, team_id: str, user: dict) -> None:
    """user_change / team_join: Slack sent the whole user object, so the profile is fresh."""
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return
    members.store_profiles(services.db, team_id, [profile_of(user_of(user))])


def member_joined(services: Services, team_id: str, channel_id: str, user_id: str) -> None:
    members.remember(services.db, team_id, user_id)
    members.joined(services.db, team_id, channel_id, user_id)


def member_left(services: Services, team_id: str, channel_id: str, user_id: str) -> None:
    members.left(services.db, team_id, channel_id, user_id)


def in_channel(services: Services, team_id: str, channel_id: str, user_id: str) -> bool:
    """Whether the member is in the channel as Hearth last saw it (no Slack call: safe before an ack).
    A channel never listed gives True: nothing says otherwise."""
    with services.db.session() as s:
        return members.in_channel(s, team_id, channel_id, user_id) is not False


@dataclass(frozen=True)
class Unreadable:
    user_id: str
    error: str


def unreadable(services: Services, team_id: str) -> list[Unreadable]:
    """Members Slack would not describe at the last try (admins see them on App Home and in `hearth roster`)."""
    with services.db.session() as s:
        return [Unreadable(m.user_id, m.profile_error or "") for m in members.unreadable(s, team_id)]


@dataclass(frozen=True)
class Status:
    channels: list[tuple[str, datetime, int]]  # (channel id, when listed, members)
    members: int
    unreadable: list[Unreadable]


def status(services: Services, team_id: str) -> Status:
    """For operators (`hearth roster status`): counts and ids only."""
    with services.db.session() as s:
        channels = members.listings(s, team_id)
        known = members.count(s, team_id)
    return Status(channels, known, unreadable(services, team_id))
