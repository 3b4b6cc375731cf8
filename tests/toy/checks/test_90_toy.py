from workbook.testing import expect, show


def _value(app, key):
    response = app.get(f"/value/{key}")
    return response.json().get("value") if response.status_code == 200 else None, response


def test_answer_is_42(app):
    value, response = _value(app, "answer")
    expect(value == 42, "42", show(response))


def test_name_is_toy(app):
    value, response = _value(app, "name")
    expect(value == "toy", "'toy'", show(response))


def test_flag_is_set(app):
    value, response = _value(app, "flag")
    expect(value is True, "true", show(response))


def test_loop_is_done(app):
    value, response = _value(app, "loop")
    expect(value == "done", "'done'", show(response))


def test_exit_is_avoided(app):
    value, response = _value(app, "exit")
    expect(value == "no", "'no'", show(response))


def test_not_registered(app):
    raise AssertionError("an unregistered check must never be reported")
