"""Signs S3 requests with botocore's own signers, for tests/sigv4_interop.rs.

Reads JSON from stdin: {"access_key", "secret_key", "token"?, "region", "requests": [{"method",
"url", "headers", "body", "presign"}]} and prints the signed requests as JSON: [{"method",
"url", "headers": [[name, value], ...]}]. URLs must already be percent-encoded, as botocore's
serializer makes them.
"""
import json
import sys

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    spec = json.load(sys.stdin)
    creds = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    out = []
    for r in spec["requests"]:
        req = AWSRequest(method=r["method"], url=r["url"], headers=dict(r.get("headers", {})), data=r.get("body", "").encode())
        if r.get("presign"):
            S3SigV4QueryAuth(creds, "s3", spec["region"], expires=3600).add_auth(req)
        else:
            S3SigV4Auth(creds, "s3", spec["region"]).add_auth(req)
        prepared = req.prepare()
        out.append({"method": prepared.method, "url": prepared.url, "headers": [[k, v] for k, v in prepared.headers.items()]})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
