"""``sign``: after an Exec ends done, sign the files it made and say where they came from.

Each file matching the node's globs in $CI_DATA gets ``FILE.sig`` (an SSH signature,
namespace ``ci-bot``, by the key in ``CI_BOT_SIGNING_KEY``), ``FILE.provenance.json``
(its sha256, the repository, commit, pipeline, node and execution, the key's
fingerprint, the time) and ``FILE.provenance.json.sig``.  Anyone holding the public
key checks them with ``ssh-keygen -Y verify`` (docs/config.md shows how).

The data is streamed to ``ssh-keygen -Y sign`` on stdin, so the bytes hashed for
the provenance are the bytes signed, and no link in $CI_DATA is ever followed.
The key is read by ssh-keygen only; none of it reaches a log or a message.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import stat
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from subprocess import PIPE
from typing import Any

from ci_bot.engine.datafiles import is_regular, matches
from ci_bot.errors import SigningError
from ci_bot.store.records import Pipeline

logger = logging.getLogger(__name__)

NAMESPACE = "ci-bot"
SIGNATURE = ".sig"
PROVENANCE = ".provenance.json"
OUR_SUFFIXES = (SIGNATURE, PROVENANCE)  # never signed again: a reset re-signs the artifact
SSH_KEYGEN_SECONDS = 120
NEW_KEY = "ssh-keygen -t ed25519 -N '' -f KEY"
NO_KEY = (
    "sign: no signing key; set CI_BOT_SIGNING_KEY to an OpenSSH ed25519 private key file "
    f"(make one with `{NEW_KEY}`)"
)


@dataclass(frozen=True)
class SigningKey:
    path: Path
    fingerprint: str  # "SHA256:…", as `ssh-keygen -l` shows it


@dataclass(frozen=True)
class Signed:
    artifact: str  # relative to $CI_DATA
    sha256: str


# --- pure ------------------------------------------------------------------------------------


def fingerprint(public_key: str) -> str:
    """The SHA256 fingerprint of an OpenSSH public key line (``ssh-ed25519 AAAA… comment``)."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def provenance(
    artifact: str, sha256: str, about: Mapping[str, Any], key_fingerprint: str, signed_at: datetime
) -> dict[str, Any]:
    """What ``FILE.provenance.json`` says; ``about``: repo, sha, pipeline, node, execution…"""
    return {
        "artifact": artifact,
        "sha256": sha256,
        **about,
        "signing_key": key_fingerprint,
        "namespace": NAMESPACE,
        "signed_at": signed_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def about(
    pipeline: Pipeline, execution_id: int, node_path: str, reused_from: int | None
) -> dict[str, Any]:
    """Where an artifact came from, for its provenance."""
    return {
        "repo": pipeline.repo,
        "sha": pipeline.sha,
        # Built from a working tree with uncommitted changes: not what ``sha`` holds.
        "dirty": pipeline.dirty,
        "event": pipeline.event,
        "branch": pipeline.branch,
        "tag": pipeline.tag,
        "pr": pipeline.pr,
        "pipeline_id": pipeline.id,
        "node_path": node_path,
        "execution_id": execution_id,
        # Set when the node's outputs were restored from that earlier execution (reuse).
        "reused_from": reused_from,
    }


# --- with ssh-keygen and files -----------------------------------------------------------------


def load_key(path: Path | None) -> SigningKey:
    """The configured key, checked usable (exists, no passphrase, ed25519) before any signing."""
    if path is None:
        raise SigningError(NO_KEY)
    done = _ssh_keygen(["-y", "-P", "", "-f", str(path)], b"")
    if done.returncode != 0:
        raise SigningError(
            f"sign: cannot use the signing key {path} ({_reason(done.stderr)}); CI_BOT_SIGNING_KEY "
            f"must be an OpenSSH ed25519 private key without a passphrase, readable only by the "
            f"bot (chmod 600); make one with `{NEW_KEY}`"
        )
    public = done.stdout.decode().strip()
    kind = public.split()[0] if public else "unknown"
    if kind != "ssh-ed25519":
        raise SigningError(
            f"sign: the signing key {path} is a {kind} key; ci-bot signs with ed25519 keys: "
            f"make one with `{NEW_KEY}`"
        )
    return SigningKey(path, fingerprint(public))


def sign_outputs(
    key: SigningKey, data_dir: Path, patterns: tuple[str, ...], about: Mapping[str, Any]
) -> list[Signed]:
    """Sign every file matching ``patterns`` in ``data_dir`` and write its provenance.
    Each pattern must match at least one file, or nothing is signed."""
    files: dict[str, Path] = {}
    for pattern in patterns:
        found = {
            path.relative_to(data_dir).as_posix(): path
            for path in matches(data_dir, pattern)
            if is_regular(path) and not path.name.endswith(OUR_SUFFIXES)
        }
        if not found:
            raise SigningError(
                f"sign: no file in $CI_DATA matches {pattern!r}; have the command write the file "
                f"there (under $CI_DATA), or fix the glob"
            )
        files.update(found)
    return [_sign_artifact(key, relative, path, about) for relative, path in sorted(files.items())]


def _sign_artifact(key: SigningKey, relative: str, path: Path, about: Mapping[str, Any]) -> Signed:
    digest = hashlib.sha256()
    signature = _sign(key, _chunks(path, relative, digest), relative)
    document = provenance(relative, digest.hexdigest(), about, key.fingerprint, datetime.now(UTC))
    text = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    statement = _sign(key, [text], relative + PROVENANCE)
    written = {SIGNATURE: signature, PROVENANCE: text, PROVENANCE + SIGNATURE: statement}
    for suffix, data in written.items():
        _write(path.with_name(path.name + suffix), data, relative + suffix)
    logger.info("signed %s (sha256 %s) with %s", relative, digest.hexdigest(), key.fingerprint)
    return Signed(relative, digest.hexdigest())


def _chunks(path: Path, relative: str, digest: hashlib._Hash) -> Iterator[bytes]:
    """The file's bytes, read once and hashed on the way; a link or FIFO is refused."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise SigningError(f"sign: cannot read {relative}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise SigningError(f"sign: {relative} is not a regular file")
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            yield chunk


def _sign(key: SigningKey, chunks: Iterable[bytes], what: str) -> bytes:
    """The SSH signature of the streamed data (ssh-keygen reads it all before answering)."""
    command = ["ssh-keygen", "-Y", "sign", "-f", str(key.path), "-n", NAMESPACE]
    try:
        # A new session has no terminal: ssh-keygen cannot stop to ask for a passphrase.
        process = subprocess.Popen(
            command, stdin=PIPE, stdout=PIPE, stderr=PIPE, start_new_session=True
        )
    except FileNotFoundError:
        raise SigningError(_NO_SSH_KEYGEN) from None
    with process:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it gave up early: its status says why
            for chunk in chunks:
                process.stdin.write(chunk)
        try:
            stdout, stderr = process.communicate(timeout=SSH_KEYGEN_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            message = f"sign: ssh-keygen did not sign {what} within {SSH_KEYGEN_SECONDS}s"
            raise SigningError(message) from None
    if process.returncode != 0 or not stdout.startswith(b"-----BEGIN SSH SIGNATURE-----"):
        raise SigningError(f"sign: ssh-keygen could not sign {what}: {_reason(stderr)}")
    return stdout


def _ssh_keygen(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["ssh-keygen", *args],
            input=data,
            capture_output=True,
            timeout=SSH_KEYGEN_SECONDS,
            check=False,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise SigningError(_NO_SSH_KEYGEN) from None


_NO_SSH_KEYGEN = (
    "sign: ssh-keygen is not installed where ci-bot runs; install OpenSSH's client "
    "(Debian: apt-get install openssh-client)"
)


def _reason(stderr: bytes) -> str:
    """ssh-keygen's last complaint (it never prints key material), kept short."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("@")]
    return (meaningful[-1] if meaningful else "no reason given")[:200]


def _write(path: Path, data: bytes, what: str) -> None:
    """Write beside the artifact atomically; a link at ``path`` is replaced, not followed."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(temporary, flags, 0o644), "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise SigningError(f"sign: cannot write {what}: {error.strerror}") from None
