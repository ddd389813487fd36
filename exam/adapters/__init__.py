"""The adapters: the database models and engines, migrations, settings, passwords and
roles, the registry of compiled exams, and where the templates and static files live."""
