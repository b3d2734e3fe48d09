"""Reporting: the dashboard's metrics (`dashboard`), server-side charts (`charts`), and page
views counted by role and area (`visits`). The pages are web.py."""
