"""The graduated service: chapters 01–07 in one package, laid out like a real FastAPI project.

    main.py          create_app(): the app factory, its lifespan (engine, shared httpx client, mail)
    settings.py      Settings + get_settings(), the one dependency every setting is read through
    database.py      the engine per process (SQLite or PostgreSQL), the session dependency
    models.py        ORM rows; their schema is owned by Alembic (app_skeleton/service/migrations/)
    schemas.py       request and response models (response_model everywhere)
    dependencies.py  session, settings, current user, shared client: Annotated aliases
    errors.py        domain errors, the rate limiter's 429, and their handlers
    ratelimit.py     the limiter, keyed on the verified identity
    routers/         auth.py (POST /auth/token), users.py (/users), health.py (/health, /ready)
    migrate.py       ``alembic upgrade head`` from Python (the deploy step)
    alembic.ini      Alembic's config; migrations/ holds env.py (async) and versions/
    gunicorn.conf.py chapter 07's answers: uvicorn workers, WEB_CONCURRENCY, timeouts

Imports inside the package are relative, so the folder works under another name too (a
learner's copy next to a notebook): only ``app_skeleton.auth`` and ``app_skeleton.mail`` are
imported by their full names.

The chapter modules next to this package (``app_skeleton.db``, ``.models``, ``.main``) stay what
chapters 01–07 import; this package reuses ``app_skeleton.auth`` and ``app_skeleton.mail``.
"""
