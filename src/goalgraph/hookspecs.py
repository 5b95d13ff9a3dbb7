"""Every hook a goalgraph plugin can implement. docs/plugins/hooks.md documents each.

Implement them with ``@goalgraph.hookimpl`` in a module registered under the ``goalgraph``
entry-point group. pluggy ignores default values of hookimpl arguments: declare only the
arguments you use, and do not rely on defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from goalgraph.notifications.messages import Message, Recipient
    from goalgraph.registry import Dimension, FactKind, Feature, GoalTemplate, GoalType

PROJECT = "goalgraph"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def goalgraph_register_goal_types() -> Sequence["GoalType"]:
    """Return the goal types this plugin provides.

    Called once at start-up, synchronously, while the registry is built. Return a list
    (possibly empty) of :class:`goalgraph.registry.GoalType`. A key already registered by
    another plugin stops start-up with an error naming both plugins.
    """


@hookspec
def goalgraph_register_fact_kinds() -> Sequence["FactKind"]:
    """Return the kinds of fact this plugin owns (tickets, quotes …).

    Called once at start-up, synchronously. Return a list of :class:`goalgraph.registry.FactKind`;
    the model is the plugin's own table, created by its own migrations
    (``goalgraph_register_migrations``). The core then ingests, imports, marks, announces, filters
    and shows facts of the kind; goal types name it in ``fact_kind``.
    """


@hookspec
def goalgraph_register_features() -> Sequence["Feature"]:
    """Return the licensable features this plugin introduces.

    Called once at start-up, synchronously. Return a list of
    :class:`goalgraph.registry.Feature`; goal types name them in ``feature``.
    """


@hookspec
def goalgraph_register_dimensions() -> Sequence["Dimension"]:
    """Return the custom dimensions this plugin provides.

    Called once at start-up, synchronously. Return a list of
    :class:`goalgraph.registry.Dimension`.
    """


@hookspec
def goalgraph_register_goal_templates() -> Sequence["GoalTemplate"]:
    """Return ready-made goals users can start from (``goalTemplates`` lists them).

    Called once at start-up, synchronously. Return a list of :class:`goalgraph.registry.GoalTemplate`;
    each names a registered goal type and one of its measures (checked at start-up).
    """


@hookspec
def goalgraph_register_migrations() -> Sequence[str]:
    """Return the Alembic version directories holding this plugin's own migrations.

    Called synchronously whenever goalgraph migrates a database (``goalgraph migrate``,
    start-up migration, tests): each returned path is added to Alembic's version
    locations. A plugin that owns tables ships its revisions as their own branch
    (``branch_labels``, ``depends_on`` the core revision creating the tables it references).
    Return a list of absolute paths of existing directories (possibly empty).
    """


@hookspec
def goalgraph_facts_ingested(counts: dict[str, dict[str, int]]) -> Any:
    """Facts were written: ``counts`` maps a kind (``deal`` …) to created/updated/ignored.

    Called after the transaction that wrote them committed. May be ``async``; it runs in
    the background and must not block or fail the request — exceptions are logged.
    """


@hookspec
def goalgraph_goal_status_changed(goal_id: int, period_index: int, old_status: str, new_status: str) -> Any:
    """A goal's current period changed status (e.g. IN_PROGRESS → ACHIEVED) after facts were ingested.

    Called once per change, by the process that ingested the facts, after its transaction
    committed. May be ``async``; it runs in the background and must not block the request —
    exceptions are logged.
    """


@hookspec
def goalgraph_send_notification(message: "Message", recipient: "Recipient") -> Any:
    """Deliver one rendered notification over this plugin's own channel (Slack, Teams …).

    Called by the notification dispatcher, in the background, once per notification and recipient
    (a user who may see the goal at send time) for every plugin implementing it. May be ``async``;
    sync implementations run in a worker thread. Raising counts as a failed attempt: it is retried
    with backoff, with the same ``message.idempotency_key``, until the attempts run out. Return
    value ignored.
    """
