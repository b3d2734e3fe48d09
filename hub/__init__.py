"""The crisis-mode teaching support hub: web application, people, permissions, scheduler."""

__version__ = "0.1.0"
