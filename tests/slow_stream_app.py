"""A WSGI app that streams a response slowly, for tests/test_deploy.py: the
shape of a long CSV export, without a million cases to export."""


def app(environ, start_response):
    import time

    seconds = int(environ.get("QUERY_STRING", "").partition("=")[2] or 4)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        for n in range(seconds * 4):
            time.sleep(0.25)
            yield f"row {n}\n".encode()

    return body()
