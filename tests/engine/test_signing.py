"""``sign`` with the real ssh-keygen: signatures that ``ssh-keygen -Y verify`` accepts,
provenance that names the commit, and a sentence for every way it cannot be done."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ci_bot.engine.signing import (
    NO_KEY,
    SigningKey,
    fingerprint,
    load_key,
    provenance,
    sign_outputs,
)
from ci_bot.errors import SigningError
from tests.gitrepos import write_files

ABOUT: dict[str, Any] = {
    "repo": "acme/app",
    "sha": "0123456789abcdef0123456789abcdef01234567",
    "pipeline_id": 3,
    "node_path": "/build",
    "execution_id": 17,
    "reused_from": None,
}


def make_key(path: Path, *, kind: str = "ed25519", passphrase: str = "") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "ci-bot test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def verify(
    allowed_signers: Path, artifact: Path, signature: Path
) -> subprocess.CompletedProcess[str]:
    """What a person runs: ssh-keygen -Y verify with an allowed_signers file."""
    with artifact.open("rb") as data:
        done = subprocess.run(
            [
                "ssh-keygen", "-Y", "verify", "-f", str(allowed_signers),
                "-I", "ci-bot", "-n", "ci-bot", "-s", str(signature),
            ],
            stdin=data,
            capture_output=True,
            check=False,
        )  # fmt: skip
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    return make_key(tmp_path / "keys" / "signing")


@pytest.fixture
def allowed_signers(key_file: Path, tmp_path: Path) -> Path:
    public = key_file.with_suffix(".pub").read_text().strip()
    path = tmp_path / "allowed_signers"
    path.write_text(f'ci-bot namespaces="ci-bot" {public}\n')
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    write_files(path, {"dist/app.tar.gz": b"\x1f\x8b built bytes", "dist/notes.txt": "notes"})
    return path


def test_signed_files_verify_and_their_provenance_names_the_commit(
    key_file: Path, allowed_signers: Path, data: Path
) -> None:
    key = load_key(key_file)

    signed = sign_outputs(key, data, ("dist/*.tar.gz",), ABOUT)

    artifact = data / "dist" / "app.tar.gz"
    expected_sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert [(s.artifact, s.sha256) for s in signed] == [("dist/app.tar.gz", expected_sha)]
    done = verify(allowed_signers, artifact, data / "dist" / "app.tar.gz.sig")
    assert done.returncode == 0, done.stderr
    assert 'Good "ci-bot" signature for ci-bot' in done.stdout + done.stderr
    statement = data / "dist" / "app.tar.gz.provenance.json"
    record = json.loads(statement.read_text())
    assert {k: record[k] for k in ABOUT} == ABOUT
    assert record["artifact"] == "dist/app.tar.gz" and record["sha256"] == expected_sha
    assert record["signing_key"] == key.fingerprint and record["namespace"] == "ci-bot"
    assert datetime.fromisoformat(record["signed_at"]).tzinfo is not None
    assert verify(allowed_signers, statement, Path(f"{statement}.sig")).returncode == 0
    assert not (data / "dist" / "notes.txt.sig").exists()


def test_a_changed_artifact_no_longer_verifies(
    key_file: Path, allowed_signers: Path, data: Path
) -> None:
    sign_outputs(load_key(key_file), data, ("dist/app.tar.gz",), ABOUT)
    artifact = data / "dist" / "app.tar.gz"

    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    assert verify(allowed_signers, artifact, Path(f"{artifact}.sig")).returncode != 0


def test_the_fingerprint_is_the_one_ssh_keygen_shows(key_file: Path) -> None:
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key_file.with_suffix(".pub"))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]

    assert load_key(key_file).fingerprint == shown
    assert fingerprint(key_file.with_suffix(".pub").read_text()) == shown


def test_signing_again_replaces_the_signatures_and_signs_none_of_them(
    key_file: Path, allowed_signers: Path, data: Path
) -> None:
    key = load_key(key_file)
    sign_outputs(key, data, ("dist/*",), ABOUT)
    (data / "dist" / "app.tar.gz").write_bytes(b"rebuilt after a reset")

    signed = sign_outputs(key, data, ("dist/*",), {**ABOUT, "execution_id": 18})

    assert [s.artifact for s in signed] == ["dist/app.tar.gz", "dist/notes.txt"]
    artifact = data / "dist" / "app.tar.gz"
    assert verify(allowed_signers, artifact, Path(f"{artifact}.sig")).returncode == 0
    record = json.loads((data / "dist" / "app.tar.gz.provenance.json").read_text())
    assert record["execution_id"] == 18
    assert sorted(p.name for p in (data / "dist").iterdir() if ".sig.sig" in p.name) == []


def test_links_in_ci_data_are_not_followed(key_file: Path, tmp_path: Path) -> None:
    data, outside = tmp_path / "data", tmp_path / "outside"
    write_files(outside, {"id_ed25519": "the bot's own file"})
    (data / "dist").mkdir(parents=True)
    os.symlink(outside / "id_ed25519", data / "dist" / "app.tar.gz")
    os.symlink(outside, data / "elsewhere")

    for pattern in ("dist/*", "elsewhere/*"):
        with pytest.raises(SigningError, match="no file in \\$CI_DATA matches"):
            sign_outputs(load_key(key_file), data, (pattern,), ABOUT)

    assert sorted(p.name for p in outside.iterdir()) == ["id_ed25519"]


# --- what cannot be signed: a sentence saying what to do ----------------------------------------


def test_no_key_says_how_to_set_one() -> None:
    with pytest.raises(SigningError) as caught:
        load_key(None)

    assert str(caught.value) == NO_KEY
    assert str(caught.value).startswith(
        "sign: no signing key; set CI_BOT_SIGNING_KEY to an OpenSSH ed25519 private key file"
    )


def test_a_glob_that_matches_nothing_is_named(key_file: Path, data: Path) -> None:
    with pytest.raises(SigningError) as caught:
        sign_outputs(load_key(key_file), data, ("dist/*.tar.gz", "dist/*.whl"), ABOUT)

    assert str(caught.value).startswith("sign: no file in $CI_DATA matches 'dist/*.whl'")
    assert not (data / "dist" / "app.tar.gz.sig").exists()  # all or nothing


@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("missing", "No such file or directory"),
        ("passphrase", "incorrect passphrase"),
        ("permissions", "bad permissions"),
        ("not a key", "Load key"),
    ],
)
def test_an_unusable_key_says_why_without_showing_it(
    tmp_path: Path, problem: str, reason: str
) -> None:
    path = tmp_path / "key"
    if problem == "passphrase":
        make_key(path, passphrase="correct horse")
    elif problem == "permissions":
        make_key(path).chmod(0o644)
    elif problem == "not a key":
        path.write_text("hello\n")
        path.chmod(0o600)

    with pytest.raises(SigningError) as caught:
        load_key(path)

    message = str(caught.value)
    assert message.startswith(f"sign: cannot use the signing key {path} (")
    assert reason in message and "chmod 600" in message
    if path.exists() and problem != "not a key":
        assert path.read_text().splitlines()[1] not in message  # no key material


def test_a_key_of_another_type_is_refused(tmp_path: Path) -> None:
    path = make_key(tmp_path / "rsa", kind="rsa")

    with pytest.raises(SigningError, match="is a ssh-rsa key; ci-bot signs with ed25519 keys"):
        load_key(path)


def test_ssh_keygen_failing_to_sign_is_an_error(data: Path, tmp_path: Path) -> None:
    gone = SigningKey(tmp_path / "removed-after-loading", "SHA256:x")

    with pytest.raises(SigningError, match=r"sign: ssh-keygen could not sign dist/app\.tar\.gz: "):
        sign_outputs(gone, data, ("dist/app.tar.gz",), ABOUT)


def test_provenance_is_plain_data() -> None:
    moment = datetime(2026, 5, 1, 12, 0, 5, tzinfo=UTC)

    record = provenance("dist/a", "ab" * 32, ABOUT, "SHA256:x", moment)

    assert record == {
        "artifact": "dist/a",
        "sha256": "ab" * 32,
        **ABOUT,
        "signing_key": "SHA256:x",
        "namespace": "ci-bot",
        "signed_at": "2026-05-01T12:00:05Z",
    }
