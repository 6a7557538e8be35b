"""The data lifecycle in the app: the nightly archive job, `hearth archive …`, `hearth members forget` and the
admins' `/hearth forget @member`. The work itself is in `storage.lifecycle`."""
