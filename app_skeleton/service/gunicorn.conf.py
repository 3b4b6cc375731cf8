"""gunicorn's configuration for the service: chapter 07's answers in one file.

gunicorn -c app_skeleton/service/gunicorn.conf.py app_skeleton.service.main:app
"""

import os

worker_class = "uvicorn_worker.UvicornWorker"  # uvicorn.workers is deprecated (chapter 07.2)
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))  # the deployment decides (about one per core)
# PORT: what hosting platforms (and the tests, through start_process) set; HOST=127.0.0.1 for a laptop
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # a stuck worker is replaced (chapter 07.3)
graceful_timeout = 10  # after SIGTERM, time to finish in-flight requests
accesslog = "-"
# gunicorn 27 opens a control socket (~/.gunicorn/gunicorn.ctl) unasked (chapter 07); this service is
# managed by signals, and two masters sharing a home would share that path.
control_socket_disable = True
