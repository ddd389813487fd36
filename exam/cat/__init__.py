"""The pure CAT core: exam definitions, the adaptive engine and every decision it makes.

Blueprints and sections (``blueprint``), a section compiled against the bank (``plan``),
the engine (``engine``: selection, exposure control, content constraints, stopping), every
random choice derived from the exam's seed (``randomness``), pilot items (``pilots``),
section results (``outcome``), the observers' replay entry point (``replay``), simulation
studies (``simulation``) and the feasibility check (``feasibility``).

Plain values in, plain values out: no web framework, no database, no settings, no clock,
no global random state. The offline verifier and ``seleksi simulate`` import this package,
never the application (checked by the import contracts in pyproject.toml).
"""
