"""Notifications: the outbox, its dispatcher and the channels (webhook, e-mail, in-app, plugins).

Producers call :func:`goalgraph.notifications.outbox.enqueue` in the transaction of the change;
:class:`goalgraph.notifications.dispatcher.Dispatcher` delivers. docs/notifications.md describes it.
"""
