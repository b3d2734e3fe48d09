"""Remote exams: the timetable (cached per process), its import, and posters' short links.
The exam pages are web.py."""
