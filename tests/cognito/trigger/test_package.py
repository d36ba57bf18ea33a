"""The deployable zip: the handler and its companion modules, nothing else, importable alone."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runbook.cognito import attributes
from runbook.cognito.trigger import common, groups, migration
from runbook.cognito.trigger import handler as migration_lambda
from runbook.cognito.trigger.package import REQUIREMENTS, build_zip

SOURCES = {
    "cognito_attributes.py": Path(attributes.__file__),
    "cognito_groups.py": Path(groups.__file__),
    "cognito_migration.py": Path(migration.__file__),
    "cognito_trigger_common.py": Path(common.__file__),
    "lambda_function.py": Path(migration_lambda.__file__),
}
ZIP_FILES = sorted(SOURCES)
# In the repository the companions are relative imports; in the zip, these names.
SIBLINGS = {"common", "groups", "migration"}
ALLOWED_IMPORTS = {"boto3", "botocore", *(n.removesuffix(".py") for n in ZIP_FILES)} | set(
    sys.stdlib_module_names
)
# boto3 and what it needs: the Lambda runtime's own packages, and nothing more.
BOTO3_CLOSURE = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


def imports_of(source: bytes) -> set[str]:
    """Top-level modules imported; a relative import may only be the repository's attributes."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert (node.level, node.module) in {(2, "attributes")} | {
                    (1, name) for name in SIBLINGS
                }, ast.unparse(node)
                continue
            assert node.module
            imported.add(node.module.split(".")[0])
    return imported


def test_zip_is_the_handler_and_its_attribute_module_with_stdlib_and_boto3_only(
    tmp_path: Path,
) -> None:
    path = build_zip(tmp_path)
    assert path == tmp_path / "cognito-user-migration.zip"
    assert build_zip(tmp_path / "again.zip").read_bytes() == path.read_bytes()  # reproducible
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ZIP_FILES
        for name in ZIP_FILES:
            source = archive.read(name)
            assert source == SOURCES[name].read_bytes(), name
            imported = imports_of(source)
            assert imported <= ALLOWED_IMPORTS, (name, imported - ALLOWED_IMPORTS)


def lambda_runtime_packages(into: Path) -> Path:
    """A directory with boto3 and its dependencies only (symlinks): what Lambda provides."""
    into.mkdir()
    for name in BOTO3_CLOSURE:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue  # not needed by this botocore version
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (into / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return into


PROBE = """
import importlib.util, json, sys
extracted, packages = sys.argv[1:3]
sys.path[:0] = [extracted, packages]
import lambda_function
import cognito_attributes, cognito_groups, cognito_migration
event = {"triggerSource": "PostAuthentication_Authentication", "userName": "u"}
print(json.dumps({
    "path": sys.path[:2],
    "handler_file": lambda_function.__file__,
    "attributes_file": cognito_attributes.__file__,
    "shared": cognito_migration.map_attributes is cognito_attributes.map_attributes
        and cognito_groups.find_source_user is cognito_migration.find_source_user,
    "copied": cognito_attributes.copy_attributes(
        [{"Name": "sub", "Value": "x"}, {"Name": "email", "Value": "a@b.c"}], None
    ),
    "misconfigured_post_auth": lambda_function.handler(event, None) == event,
    "clients": len(lambda_function._clients),
    "loaded": sorted({m.split(".")[0] for m in sys.modules} & {"runbook", "pydantic"}),
    "findable": [m for m in ("runbook", "pydantic") if importlib.util.find_spec(m)],
}))
"""


def test_zip_imports_in_a_fresh_interpreter_with_boto3_alone(tmp_path: Path) -> None:
    """Extracted and imported as Lambda would: `-I -S`, so no site-packages and no
    `.pth` (the editable `runbook`); sys.path is the stdlib, the zip's directory and
    boto3 with its dependencies."""
    with zipfile.ZipFile(build_zip(tmp_path / "trigger.zip")) as archive:
        assert sorted(archive.namelist()) == ZIP_FILES
        archive.extractall(tmp_path / "task")
    extracted = (tmp_path / "task").resolve()
    packages = lambda_runtime_packages(tmp_path / "runtime")
    env = {"PATH": "/usr/bin:/bin", "OLD_USER_POOL_ID": ""}  # no AWS_* or PYTHON* variables
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(extracted), str(packages)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["path"] == [str(extracted), str(packages)]
    assert Path(seen["handler_file"]).parent == extracted
    assert Path(seen["attributes_file"]).parent == extracted
    assert seen["shared"] is True
    assert seen["copied"] == [{"email": "a@b.c"}, []]
    assert seen["misconfigured_post_auth"] is True  # never blocks a sign-in
    assert seen["clients"] == 0  # no side effects at import
    assert seen["loaded"] == [] and seen["findable"] == []


def test_lambda_package_command_writes_the_deployable_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runbook.cli.main import main

    out = tmp_path / "trigger.zip"
    assert main(["lambda", "package", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ZIP_FILES
        source = archive.read("lambda_function.py").decode()
    assert "def handler(event" in source
    printed = capsys.readouterr().out
    assert "lambda_function.handler" in printed
    assert REQUIREMENTS in printed and "mfa_reenrol" in printed
    again = tmp_path / "again.zip"
    assert main(["lambda", "package", "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # reproducible
