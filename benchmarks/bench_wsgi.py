"""The app as production serves it (wsgi:app), plus the hello-world route the HTTP benchmark uses as its ceiling.

The route goes through everything every request goes through (the request hooks, the security
headers, the session interface) and does no work of its own, so a page's requests per second
divided by this route's, in the same run on the same server, is the share of the framework's
limit that the page reaches. Only benchmarks/http.py serves this module.
"""

from wsgi import app


@app.get("/__bench/hello")
def hello() -> str:
    return "Hello, World!"
