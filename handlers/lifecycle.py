"""`app_uninstalled` and `tokens_revoked` with a single bot token (no OAuth).

With OAuth, Bolt's own revocation listeners (registered first by `build_app`) delete the workspace's stored
installation and these never run. With one bot token there is nothing stored to delete, but the operator must
learn why every delivery now fails: one warning, with the team id and counts only (the revoked tokens' user
ids stay out of the log).
"""

import logging

from slack_bolt import App

log = logging.getLogger("hearth.lifecycle")


def register(app: App) -> None:
    @app.event("app_uninstalled")
    def on_uninstalled(team_id: str) -> None:
        log.warning("hearth.uninstalled team=%s: Slack removed Hearth from this workspace; deliveries fail until "
                    "it is reinstalled from manifest.yml and SLACK_BOT_TOKEN is updated", team_id)

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, team_id: str) -> None:
        tokens = event.get("tokens") or {}
        log.warning("hearth.tokens_revoked team=%s bot_tokens=%d user_tokens=%d: if the bot token was revoked, "
                    "reinstall Hearth and update SLACK_BOT_TOKEN", team_id, len(tokens.get("bot") or ()),
                    len(tokens.get("oauth") or ()))
