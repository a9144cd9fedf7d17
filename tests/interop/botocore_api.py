"""Signs HTTP API requests with botocore's SigV4Auth for service execute-api, as boto3-based
tools sign calls to API Gateway, for tests/http_api.rs.

Reads JSON from stdin: {"access_key", "secret_key", "token"?, "region", "service"?, "requests":
[{"method", "url", "headers", "body"}]} and prints the signed requests as JSON: [{"method",
"url", "headers": [[name, value], ...]}]. SigV4Auth signs the body's SHA-256 without sending
it in a header.
"""
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    spec = json.load(sys.stdin)
    creds = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    service = spec.get("service", "execute-api")
    out = []
    for r in spec["requests"]:
        req = AWSRequest(method=r["method"], url=r["url"], headers=dict(r.get("headers", {})), data=r.get("body", "").encode())
        SigV4Auth(creds, service, spec["region"]).add_auth(req)
        prepared = req.prepare()
        out.append({"method": prepared.method, "url": prepared.url, "headers": [[k, v] for k, v in prepared.headers.items()]})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
