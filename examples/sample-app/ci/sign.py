"""Sign an artifact: an HMAC-SHA256 over its digest with the pipeline's secret key,
plus provenance (what was built, from which commit, by which pipeline)."""

import hashlib
import hmac
import json
import os
import pathlib
import sys

artifact = pathlib.Path(sys.argv[1])
key = os.environ["DEMO_SIGNING_KEY"].encode()
digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
signature = hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()
provenance = {
    "artifact": artifact.name,
    "sha256": digest,
    "signature": signature,
    "commit": os.environ.get("CI_SHA", ""),
    "pipeline": os.environ.get("CI_PIPELINE_ID", ""),
}
artifact.with_suffix(".provenance.json").write_text(json.dumps(provenance, indent=2))
print(f"signed {artifact.name}: sha256 {digest[:16]}…")
print(f"(the key is masked in this log: {os.environ['DEMO_SIGNING_KEY']})")
