"""The access policy: every rule about who may see and change what, in one place.

From the products goalgraph replaces (Pipedrive's goal visibility, SuperOffice's lock right):

* **The Targets right** (SuperOffice's data right "Mål"): without it a user sees, creates and
  changes no goals and gets no targets plan. Admins and service tokens always have it.
* **See goals.** Admins (and service tokens) see every goal. Anyone holding *both* statistics
  rights ("see company statistics" and "see other users' statistics") sees every goal. Otherwise a
  user sees their own goals, and a team leader also the goals of the teams they lead and of those
  teams' members.
* **See facts** (deals, activities, drill-down) follows the same line: one's own, the led teams'
  members', or everything with both rights or as admin.
* **Change goals** (add, edit, delete). Admins: every goal. A user: their own user goals. A team
  leader holding both statistics rights: also the goals of members of the teams they lead and
  those teams' own goals. Company goals: admins only.
* **Enter values of manual goals** (add, correct, delete entries): whoever may change the goal, and
  its assignee — a user goal's user, a team goal's leaders (the team members see no team goal).
  Company goals: who may change them (admins).
* **Lock and unlock targets**: only with the lock right, and only goals one may see and change.
  (Service tokens may do everything.)
* **Manage** facts, exchange rates, organisation settings, users' rights, dimensions, features
  and the licence: admins and service tokens.

Lists filter in SQL (:func:`goal_condition`, :func:`fact_owner_condition`); single checks use
the same rules in Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_

from goalgraph.access.viewer import Viewer
from goalgraph.db.models import Goal


def sees_everything(viewer: Viewer) -> bool:
    """Admins, service tokens and holders of both statistics rights see all goals and facts."""
    return viewer.system or viewer.is_admin or (
        viewer.can_see_company_statistics and viewer.can_see_other_users_statistics
    )


#: What a user without the data right "Targets" is told.
TARGETS_RIGHT_NEEDED = 'you need the data right "Targets" to use goals and the targets plan; ask an admin'


def can_use_targets(viewer: Viewer) -> bool:
    """Holds the data right "Targets": may use goals and the targets plan at all."""
    return viewer.system or viewer.is_admin or viewer.can_use_targets


def can_see_private_details(viewer: Viewer, user_id: int | None) -> bool:
    """May read a user's e-mail address: the user themself, admins and services."""
    return can_manage(viewer) or (user_id is not None and user_id == viewer.user_id)


def can_manage(viewer: Viewer) -> bool:
    """May change facts, settings, rights, dimensions, features and the licence."""
    return viewer.system or viewer.is_admin


def goal_condition(viewer: Viewer) -> Any | None:
    """SQL condition on ``Goal`` for the goals the viewer may see (None: all)."""
    if not can_use_targets(viewer):
        return false()
    if sees_everything(viewer):
        return None
    if viewer.user_id is None:
        return false()
    own = and_(Goal.assignee_kind == "USER", Goal.assignee_user_id == viewer.user_id)
    if not viewer.is_leader:
        return own
    return or_(
        own,
        and_(Goal.assignee_kind == "TEAM", Goal.assignee_team_id.in_(sorted(viewer.leads))),
        and_(Goal.assignee_kind == "USER", Goal.assignee_user_id.in_(sorted(viewer.team_members))),
    )


def fact_owner_condition(viewer: Viewer, owner_column: Any) -> Any | None:
    """SQL condition on a fact's credited-user column for the facts the viewer may see (None: all)."""
    if sees_everything(viewer):
        return None
    if viewer.user_id is None:
        return false()
    return owner_column.in_(sorted(viewer.team_members | {viewer.user_id}))


def row_condition(viewer: Viewer, model: Any) -> Any | None:
    """SQL condition on a CRM model's rows the viewer may see (None: all). Facts credited to a user (models
    declaring ``credited_user``, the column naming them) follow :func:`fact_owner_condition`; users, teams,
    pipelines and stages are visible to anyone allowed in."""
    column = getattr(model, "credited_user", None)
    return None if column is None else fact_owner_condition(viewer, getattr(model, column))


def visible_fact_owners(viewer: Viewer) -> frozenset[int] | None:
    """The users whose facts the viewer may see (None: everyone's)."""
    if sees_everything(viewer):
        return None
    return frozenset(viewer.team_members | ({viewer.user_id} if viewer.user_id else set()))


def can_see_assignee(viewer: Viewer, kind: str, user_id: int | None, team_id: int | None) -> bool:
    """The Python twin of :func:`goal_condition` for one goal (or plan row)."""
    if not can_use_targets(viewer):
        return False
    if sees_everything(viewer):
        return True
    if kind == "USER":
        return user_id == viewer.user_id or (viewer.is_leader and user_id in viewer.team_members)
    if kind == "TEAM":
        return team_id in viewer.leads
    return False


def can_change_assignee(viewer: Viewer, kind: str, user_id: int | None, team_id: int | None) -> bool:
    """May add, edit or delete a goal for this assignee."""
    if not can_use_targets(viewer):
        return False
    if can_manage(viewer):
        return True
    full_rights = viewer.can_see_company_statistics and viewer.can_see_other_users_statistics
    if kind == "USER":
        if user_id is not None and user_id == viewer.user_id:
            return True
        return viewer.is_leader and full_rights and user_id in viewer.team_members
    if kind == "TEAM":
        return viewer.is_leader and full_rights and team_id in viewer.leads
    return False


def can_see_goal(viewer: Viewer, goal: Goal) -> bool:
    return can_see_assignee(viewer, goal.assignee_kind, goal.assignee_user_id, goal.assignee_team_id)


def can_change_goal(viewer: Viewer, goal: Goal) -> bool:
    return can_see_goal(viewer, goal) and can_change_assignee(
        viewer, goal.assignee_kind, goal.assignee_user_id, goal.assignee_team_id
    )


def can_lock_goal(viewer: Viewer, goal: Goal) -> bool:
    """Lock or unlock: the lock right, on a goal one may see and change."""
    return (viewer.system or viewer.can_lock_targets) and can_change_goal(viewer, goal)


def can_enter_values(viewer: Viewer, goal: Goal) -> bool:
    """Enter, correct and delete a manual goal's values: who may change the goal, and its assignee (a user
    goal's user, a team goal's leaders)."""
    if not can_see_goal(viewer, goal):
        return False
    if can_change_goal(viewer, goal):
        return True
    if goal.assignee_kind == "USER":
        return viewer.user_id is not None and goal.assignee_user_id == viewer.user_id
    return goal.assignee_kind == "TEAM" and goal.assignee_team_id in viewer.leads
