"""Every workflow Hearth runs, in one explicit list: the only place a workflow is plugged in.

`build_app` registers each one's listeners, App Home draws each one's section (in this order), the scheduler
runs each one's jobs, the `hearth` CLI offers each one's commands and `hearth simulate` tells each one's
chapter. A new workflow (surveys, buddy introductions, reports) is one more entry here;
tests/test_workflows.py proves that an entry is wired everywhere.
"""

from __future__ import annotations

from handlers import buddies as buddy_listeners
from handlers import checkins as checkin_listeners
from handlers import hearth_command, home, lifecycle, membership
from handlers import reports as report_listeners
from handlers import surveys as survey_listeners
from slack_app.buddies import cli as buddy_cli
from slack_app.buddies import home as buddy_home
from slack_app.buddies import ritual as buddy_ritual
from slack_app.buddies.scenario import scenario_buddies
from slack_app.checkins import cli as checkin_cli
from slack_app.checkins import home as checkin_home
from slack_app.checkins import jobs as checkin_jobs
from slack_app.checkins.scenario import scenario_checkins
from slack_app.delivery import cli as delivery_cli
from slack_app.delivery import home as delivery_home
from slack_app.housekeeping import jobs as housekeeping_jobs
from slack_app.lifecycle import cli as lifecycle_cli
from slack_app.lifecycle import jobs as lifecycle_jobs
from slack_app.reports import cli as report_cli
from slack_app.reports import jobs as report_jobs
from slack_app.reports.scenario import scenario_reports
from slack_app.roster_cli import roster_group
from slack_app.roster_home import section as roster_section
from slack_app.simulator.getting_started import getting_started
from slack_app.surveys import home as survey_home
from slack_app.surveys import jobs as survey_jobs
from slack_app.surveys.cli import surveys as survey_cli
from slack_app.surveys.scenario import scenario_surveys
from slack_app.workflow import Workflow

HEARTH = Workflow(  # what every install has: App Home, `/hearth`, the roster, install lifecycle, housekeeping
    name="hearth",
    listeners=(home.register, hearth_command.register, membership.register, lifecycle.register),
    home=roster_section,  # admins: members whose Slack profile could not be read
    jobs=housekeeping_jobs.JOBS,
    commands=(roster_group,),
    chapter=("Getting started", getting_started),
)

CHECKINS = Workflow(
    name="checkins",
    listeners=(checkin_listeners.register,),
    home=checkin_home.section,
    jobs=checkin_jobs.JOBS,
    commands=(checkin_cli.checkins,),
    chapter=("A check-in round", scenario_checkins),
)

DELIVERY = Workflow(  # the outbox: admins see what could not be delivered; operators resend it
    name="delivery",
    home=delivery_home.section,
    commands=(delivery_cli.outbox_group,),
)

REPORTS = Workflow(  # `/report`, the Report shortcuts, case cards and triage in the moderator channel (issue 9)
    name="reports",
    listeners=(report_listeners.register,),
    jobs=report_jobs.JOBS,
    commands=(report_cli.reports,),
    chapter=("Reporting a concern", scenario_reports),
)

SURVEYS = Workflow(  # anonymous belonging surveys: launch, invitations, the sealed modal, close, results (issue 8)
    name="surveys",
    listeners=(survey_listeners.register,),
    home=survey_home.section,
    jobs=survey_jobs.JOBS,
    commands=(survey_cli,),
    chapter=("An anonymous survey", scenario_surveys),
)

BUDDIES = Workflow(  # buddy introductions: `/buddies`, rounds on each program's cadence, `hearth buddies`
    name="buddies",
    listeners=(buddy_listeners.register,),
    home=buddy_home.section,
    jobs=buddy_ritual.JOBS,
    commands=(buddy_cli.buddies,),
    chapter=("Buddy introductions", scenario_buddies),
)

LIFECYCLE = Workflow(  # old records to the archive nightly, `hearth archive …`, forgetting a member (issue 11)
    name="lifecycle",
    jobs=lifecycle_jobs.JOBS,
    commands=(lifecycle_cli.archive_group, lifecycle_cli.members_group),
)

WORKFLOWS: tuple[Workflow, ...] = (HEARTH, CHECKINS, DELIVERY, SURVEYS, REPORTS, BUDDIES, LIFECYCLE)
