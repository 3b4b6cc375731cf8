from workbook.testing import expect, show


def test_alive(app):
    response = app.get("/alive")
    expect(response.status_code == 200, "200", show(response))
