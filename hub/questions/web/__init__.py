"""The pages and API of a question area: asking (teachers), queues (referents), and the
views both share."""
