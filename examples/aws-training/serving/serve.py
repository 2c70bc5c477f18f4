"""The serving container of the example: SageMaker's inference contract on port 8080.

SageMaker mounts the model's S3 prefix (the train step's artifact folder) at
/opt/ml/model, starts the container with the argument ``serve``, checks ``GET /ping``
and sends requests to ``POST /invocations``. Requests are JSON
``{"instances": [[f0, ..., f7], ...]}``; answers are ``{"predictions": [...]}``.
"""

import json
import pickle
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_FILE = "/opt/ml/model/model.pkl"  # written by zplan's scikit-learn materializer


class Handler(BaseHTTPRequestHandler):
    model = None

    def do_GET(self):
        self._answer(200 if self.path == "/ping" else 404, {})

    def do_POST(self):
        if self.path != "/invocations":
            return self._answer(404, {})
        try:
            rows = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))["instances"]
            self._answer(200, {"predictions": self.model.predict(rows).tolist()})
        except (ValueError, KeyError, TypeError) as exc:
            self._answer(400, {"error": str(exc)})

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    if sys.argv[1:] not in ([], ["serve"]):
        sys.exit(f"unknown command {sys.argv[1:]}: this image only serves")
    with open(MODEL_FILE, "rb") as f:
        Handler.model = pickle.load(f)
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
