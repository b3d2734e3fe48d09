"""Webinars: series and sessions, registration, iCalendar invites, reminders (to come)."""
