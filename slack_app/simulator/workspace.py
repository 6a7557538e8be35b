"""The simulated workspace: people, bots and conversations, as the Web API describes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# What Hearth's manifest asks for; tests narrow or widen it to exercise `missing_scope` and the doctor.
DEFAULT_SCOPES: tuple[str, ...] = (
    "channels:read", "groups:read", "im:write", "mpim:write", "chat:write", "commands", "users:read",
    "files:write", "channels:history", "groups:history", "im:history", "mpim:history",
)


@dataclass
class User:
    id: str
    name: str
    real_name: str
    tz: str = "UTC"
    tz_offset: int = 0
    is_bot: bool = False
    deleted: bool = False
    is_admin: bool = False
    is_owner: bool = False
    is_restricted: bool = False
    title: str = ""  # the profile's job title ("What I do")

    @property
    def first_name(self) -> str:
        return self.real_name.split()[0] if self.real_name else self.name

    def to_api(self, team_id: str) -> dict:
        """The user object of users.info / users.list."""
        return {
            "id": self.id, "team_id": team_id, "name": self.name, "deleted": self.deleted,
            "real_name": self.real_name, "tz": self.tz, "tz_label": self.tz, "tz_offset": self.tz_offset,
            "profile": {
                "real_name": self.real_name, "real_name_normalized": self.real_name,
                "display_name": self.name, "display_name_normalized": self.name, "team": team_id,
                "title": self.title,
            },
            "is_admin": self.is_admin, "is_owner": self.is_owner, "is_primary_owner": self.is_owner,
            "is_restricted": self.is_restricted, "is_ultra_restricted": False, "is_bot": self.is_bot,
            "is_app_user": False, "updated": 1700000000,
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    is_im: bool = False
    is_mpim: bool = False

    def to_api(self, bot_user_id: str) -> dict:
        """The conversation object of conversations.info."""
        shared = {"id": self.id, "created": 1700000000, "is_archived": self.is_archived,
                  "is_im": self.is_im, "is_org_shared": False, "is_member": bot_user_id in self.members}
        if self.is_im:
            user = next(iter(self.members - {bot_user_id}), bot_user_id)
            return {**shared, "user": user, "is_open": True}
        return {
            **shared, "name": self.name, "name_normalized": self.name, "is_channel": not self.is_private,
            "is_group": self.is_private and not self.is_mpim, "is_mpim": self.is_mpim,
            "is_private": self.is_private, "is_general": self.name == "general", "is_shared": False,
            "is_ext_shared": False, "num_members": len(self.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class Workspace:
    team_id: str
    team_name: str
    bot_user_id: str
    bot_id: str
    users: dict[str, User]
    channels: dict[str, Channel]
    scopes: set[str] = field(default_factory=lambda: set(DEFAULT_SCOPES))
    domain: str = "hearth-demo"
    app_id: str = "A0HEARTH"

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"

    @property
    def humans(self) -> list[User]:
        return [u for u in self.users.values() if not (u.is_bot or u.deleted)]

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        return user

    def add_channel(self, channel: Channel) -> Channel:
        self.channels[channel.id] = channel
        return channel


def demo_workspace(scopes: Iterable[str] | None = None) -> Workspace:
    """A small community: six people in five time zones, a departed member, another app and five channels."""

    def person(uid: str, name: str, real: str, tz: str, offset_h: float, title: str = "", **flags: bool) -> User:
        return User(uid, name, real, tz, int(offset_h * 3600), title=title, **flags)

    users = [
        User("UHEARTHBOT", "hearth", "Hearth", is_bot=True),
        person("UALICE", "alice", "Alice Weber", "Europe/Berlin", 1, "Engineer", is_admin=True),
        person("UBOB", "bob", "Bob Miller", "America/New_York", -5, "Engineer"),
        person("UCARMEN", "carmen", "Carmen Ruiz", "America/Mexico_City", -6, "Designer"),
        person("UDEV", "dev", "Dev Patel", "Asia/Kolkata", 5.5, "Designer"),
        person("UEMI", "emi", "Emi Sato", "Asia/Tokyo", 9, " engineer"),  # the same title, typed differently
        person("UFINN", "finn", "Finn Byrne", "Europe/Dublin", 0, is_owner=True, is_admin=True),  # no title
        person("UGONE", "gone", "Gone Member", "Europe/London", 0, deleted=True),
        User("UOTHERBOT", "otherbot", "Other Bot", is_bot=True),
    ]
    bot = "UHEARTHBOT"
    everyone = {u.id for u in users if not u.deleted}  # another app's bot too: member lists hold bots
    channels = [
        Channel("CGENERAL", "general", members=set(everyone)),
        Channel("CCIRCLE", "gratitude-circle", members={bot, "UALICE", "UBOB", "UDEV", "UEMI"}),
        Channel("CNOBOT", "random", members={"UALICE", "UBOB", "UCARMEN"}),
        Channel("GMODS", "hearth-moderators", is_private=True, members={bot, "UALICE", "UFINN"}),
        Channel("CARCHIVED", "old-announcements", is_archived=True, members={bot, "UALICE"}),
    ]
    return Workspace(
        team_id="T0HEARTH", team_name="Hearth Demo", bot_user_id=bot, bot_id="BHEARTH",
        users={u.id: u for u in users}, channels={c.id: c for c in channels},
        scopes=set(DEFAULT_SCOPES if scopes is None else scopes),
    )
