"""Serve this folder over HTTP on the given port, after SERVE_DELAY seconds."""

import http.server
import os
import sys
import time

time.sleep(float(os.environ.get("SERVE_DELAY", "0")))
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
