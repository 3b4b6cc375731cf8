"""workbook.dockerfile: the argv and environment Docker would start a container with."""

from __future__ import annotations

from workbook.dockerfile import parse

ARTICLE = """FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV WORKERS=4
CMD gunicorn main:app \\
--workers $WORKERS \\
--worker-class uvicorn.workers.UvicornWorker \\
--bind 0.0.0.0:8000
"""


def test_shell_form_runs_under_sh() -> None:
    image = parse(ARTICLE)
    assert image.env == {"WORKERS": "4"}
    assert not image.exec_form
    assert image.argv[:2] == ["/bin/sh", "-c"]
    assert image.argv[2].split() == ["gunicorn", "main:app", "--workers", "$WORKERS", "--worker-class",
                                     "uvicorn.workers.UvicornWorker", "--bind", "0.0.0.0:8000"]  # fmt: skip


def test_exec_form_is_the_argv_itself_and_the_last_cmd_wins() -> None:
    image = parse('# a comment\nENV A=1 B="two words"\nENV C 3 4\nCMD ["old"]\nCMD ["gunicorn", \\\n "main:app"]\n')
    assert image.exec_form and image.argv == ["gunicorn", "main:app"]
    assert image.env == {"A": "1", "B": "two words", "C": "3 4"}


def test_single_quotes_are_not_json_so_it_is_shell_form() -> None:
    image = parse("CMD ['gunicorn', 'main:app']")
    assert not image.exec_form and image.argv == ["/bin/sh", "-c", "['gunicorn', 'main:app']"]


def test_entrypoint_and_cmd_combine_like_docker() -> None:
    assert parse('ENTRYPOINT ["gunicorn"]\nCMD ["main:app"]').argv == ["gunicorn", "main:app"]
    shell = parse('ENTRYPOINT exec gunicorn main:app\nCMD ["ignored"]')
    assert shell.argv == ["/bin/sh", "-c", "exec gunicorn main:app"] and not shell.exec_form


def test_no_command() -> None:
    assert parse("FROM python:3.12-slim\n").argv == []
