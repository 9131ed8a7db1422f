"""Notifications: message templates, apprise channels (email, Microsoft Teams) and the outbox.

Services write messages into the outbox in the same transaction as the change that caused them;
`notifications.outbox.deliver` sends them after commit, at least once, never two different copies.
"""
