"""The core stays pure: it imports only the standard library and attrs."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import portal_core

CORE = Path(portal_core.__file__).parent
ALLOWED_ROOTS = set(sys.stdlib_module_names) | {"attrs", "attr", "portal_core", "__future__"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_core_imports_only_the_standard_library_and_attrs() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5, "the purity check must actually see the core's modules"
    offending = [
        f"{path.relative_to(CORE.parent)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if module.split(".")[0] not in ALLOWED_ROOTS
    ]
    assert offending == []


def test_purity_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("import sqlalchemy\nfrom httpx import Client\nimport json\n")
    roots = {name.split(".")[0] for _, name in imported_modules(module)}
    assert roots - ALLOWED_ROOTS == {"sqlalchemy", "httpx"}
