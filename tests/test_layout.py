"""The package's layout: imports go down the layers only, modules stay small, folders stay short."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "se_tutorial"
#: The layers, from the bottom: a module may import its own layer and the ones before it.
LAYERS = ["utils", "nn", "data", "training", "studies", "book", "cli"]
#: nn and data are independent of each other; each stands on utils alone.
INDEPENDENT = {("nn", "data"), ("data", "nn")}
MAX_LINES = 300
#: Triton kernels may be longer when they must (none is, today).
LONG_ALLOWED = {"nn/fused/kernels.py"}
MAX_MODULES_PER_FOLDER = 10


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def name_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports (relative imports resolved), wherever in the file."""
    package = name_of(path) if path.name == "__init__.py" else name_of(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from . import kernels" imports the module kernels, not its package's __init__.
            candidates = [
                f"{target}.{alias.name}" if _exists(f"{target}.{alias.name}") else target
                for alias in node.names
            ]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c.startswith("se_tutorial") and _exists(c)}
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_import_goes_down_the_layers():
    wrong = []
    for path in modules():
        here = layer_of(name_of(path))
        if here is None:  # se_tutorial/__init__.py and __main__.py sit on top of everything
            continue
        for target in imported_modules(path):
            there = layer_of(target)
            if there is None:
                wrong.append(f"{name_of(path)} imports the package root ({target})")
            elif (here, there) in INDEPENDENT or LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{name_of(path)} ({here}) imports {target} ({there})")
    assert not wrong, "\n".join(wrong)


def test_there_is_no_import_cycle():
    graph = {name_of(path): imported_modules(path) for path in modules()}
    # A package's __init__ re-exports its modules, and a module importing its own
    # package's __init__ would be a cycle: keep only module -> module edges.
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail, node, target]))
            if target not in state:
                visit(target, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_modules_stay_short_and_folders_stay_small():
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in modules()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
        and str(path.relative_to(PACKAGE)) not in LONG_ALLOWED
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    crowded = {
        str(folder.relative_to(PACKAGE.parent)): count
        for folder in {path.parent for path in modules()}
        if (count := len(list(folder.glob("*.py")))) > MAX_MODULES_PER_FOLDER
    }
    assert not crowded, f"folders with over {MAX_MODULES_PER_FOLDER} modules: {crowded}"


def test_every_subpackage_says_what_its_job_is():
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and len(docstring) > 40, (
            f"{init.relative_to(PACKAGE)} has no docstring naming its job"
        )


def test_the_names_a_network_needs_import_from_the_top():
    import se_tutorial
    import se_tutorial.nn

    assert se_tutorial.__all__ == se_tutorial.nn.__all__

    for name in (
        "SEBlock",
        "SEResNetBlock",
        "cifar_resnet",
        "se_resnet50",
        "ModelSpec",
        "capture_excitations",
    ):
        assert hasattr(se_tutorial, name), name
