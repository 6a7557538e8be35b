"""Reporting a concern to the moderators. Until the real intake is built (issue 9), `/report` and both
*Report* shortcuts open an honest modal: reports are being set up, whom to contact meanwhile, nothing kept."""
