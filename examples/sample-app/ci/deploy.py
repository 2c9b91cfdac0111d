"""Deploy: verify the signature, then install the artifact into the repository's
cache (which outlives the pipeline) as the current release."""

import hashlib
import hmac
import json
import os
import pathlib
import shutil
import sys

artifact = pathlib.Path(sys.argv[1])
provenance = json.loads(artifact.with_suffix(".provenance.json").read_text())
digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
key = os.environ["DEMO_SIGNING_KEY"].encode()
expected = hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()
if digest != provenance["sha256"] or not hmac.compare_digest(expected, provenance["signature"]):
    sys.exit("refusing to deploy: the signature does not match the artifact")
target = pathlib.Path(os.environ["CI_CACHE"]) / "releases" / (provenance["commit"][:12] or "local")
target.mkdir(parents=True, exist_ok=True)
shutil.copy2(artifact, target / artifact.name)
print(f"deployed {artifact.name} (signature verified) to {target}")
