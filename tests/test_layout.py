"""The import rules of fststyle's layers (see fststyle/__init__.py), read from the source with
`ast` (every import, function-level ones included; `if TYPE_CHECKING:` blocks excluded, they
never run) and checked in fresh interpreters through sys.modules and `-X importtime`:

- the runtime (fststyle.runtime) imports neither torch nor Lightning, even transitively;
- Lightning is imported only by training, the Lightning loggers and `fststyle.train`: the core,
  evaluation, the torch-free record and the other entry points never load it;
- each layer imports only from the layers below it (runtime < core < tracking < training and
  evaluation < the entry points);
- no two modules import each other, directly or through a cycle;
- `fststyle.serve` (the web page's server) imports neither torch nor Lightning, and the page
  (fststyle/web/) loads only its own files and onnxruntime-web from the server, no CDN.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fststyle

PACKAGE = Path(fststyle.__file__).parent
TORCH = {"torch", "torchvision"}
LIGHTNING = {"pytorch_lightning", "lightning", "lightning_fabric"}
# The only modules that may import Lightning.
LIGHTNING_ALLOWED = ("fststyle.training.", "fststyle.tracking.build_loggers",
                     "fststyle.tracking.base_logger", "fststyle.tracking.neptune_logger",
                     "fststyle.tracking.mlflow_logger", "fststyle.tracking.csv_logger",
                     "fststyle.train")
# Entry points that must start without torch: they only serve or run exported .onnx models.
TORCH_FREE_ENTRY_POINTS = ["fststyle.serve"]
# Layer of each subpackage; a module imports only from layers <= its own. Entry points (the
# modules beside __init__.py) form the top layer.
LAYERS = {"runtime": 0, "core": 1, "tracking": 2, "training": 3, "evaluation": 3}
TOP = 4


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return skipped


def imports_of(name: str) -> set[str]:
    """Absolute names of everything module `name` imports: fststyle modules by their module name
    (`from fststyle.x import y` is fststyle.x.y when that is a module), others by top package."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    skipped, found = _type_checking_nodes(tree), set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                      for a in node.names}
    return {n if n.split(".")[0] == "fststyle" else n.split(".")[0] for n in found}


GRAPH = {name: {n for n in imports_of(name) if n in MODULES} for name in MODULES}
EXTERNAL = {name: {n for n in imports_of(name) if n.split(".")[0] != "fststyle"}
            for name in MODULES}


def reachable(start: str) -> tuple[set[str], set[str]]:
    """(fststyle modules, external top-level packages) that importing `start` can import."""
    seen, stack = {start}, [start]
    while stack:
        for dep in GRAPH[stack.pop()] - seen:
            seen.add(dep)
            stack.append(dep)
    return seen, set().union(*(EXTERNAL[m] for m in seen))


def layer(name: str) -> int | None:
    parts = name.split(".")
    if len(parts) == 1 or parts[1] == "_version":
        return None  # the package itself and its version: importable from anywhere
    return LAYERS.get(parts[1], TOP) if len(parts) > 2 or parts[1] in LAYERS else TOP


def test_the_layers_exist_and_each_has_modules():
    for package in LAYERS:
        assert any(m.startswith(f"fststyle.{package}.") for m in MODULES), package


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("fststyle.runtime")])
def test_runtime_imports_neither_torch_nor_lightning(name):
    modules, external = reachable(name)
    assert not external & (TORCH | LIGHTNING), (
        f"{name} imports {sorted(external & (TORCH | LIGHTNING))} "
        f"through {sorted(m for m in modules if EXTERNAL[m] & (TORCH | LIGHTNING))}")


@pytest.mark.parametrize("name", [m for m in MODULES if not m.startswith(LIGHTNING_ALLOWED)])
def test_only_training_and_its_loggers_import_lightning(name):
    modules, external = reachable(name)
    assert not external & LIGHTNING, (
        f"{name} imports Lightning through {sorted(m for m in modules if EXTERNAL[m] & LIGHTNING)}")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_layer_imports_only_the_layers_below(name):
    own = layer(name)
    if own is None:
        return
    above = [dep for dep in GRAPH[name] if (layer(dep) or 0) > own]
    assert not above, f"{name} (layer {own}) imports {above} from a higher layer"
    beside = [dep for dep in GRAPH[name] if own < TOP and layer(dep) == own
              and dep.split(".")[1] != name.split(".")[1]]
    assert not beside, f"{name} imports {beside}: training and evaluation stay apart"
    if own < TOP:  # library code never imports an entry point
        assert not [d for d in GRAPH[name] if layer(d) == TOP], name


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of modules that import each other in a ring, or None (depth-first search)."""
    state, path = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_planted_cycle():
    planted = {**GRAPH, "fststyle.core.vgg": GRAPH["fststyle.core.vgg"] | {"fststyle.core.losses"}}
    assert find_cycle(planted) is not None


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)


def test_runtime_and_core_in_a_fresh_interpreter():
    runtime = [m for m in MODULES if m.startswith("fststyle.runtime")]
    core = [m for m in MODULES if m.startswith("fststyle.core.")]
    code = (f"import sys, importlib\nfor m in {runtime!r}: importlib.import_module(m)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', "
            "'pytorch_lightning', 'lightning', 'lightning_fabric'}))\n"
            f"for m in {core!r}: importlib.import_module(m)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pytorch_lightning', "
            "'lightning', 'lightning_fabric'}))\n")
    res = run_python("-c", code)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split("\n")[:2] == ["[]", "[]"], res.stdout


@pytest.mark.parametrize("verb", ["evaluate", "gatys"])
def test_help_does_not_load_lightning(verb):
    res = run_python("-X", "importtime", "-m", f"fststyle.{verb}", "--help")
    assert res.returncode == 0 and "usage:" in res.stdout, res.stderr[-2000:]
    loaded = [line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines()
              if line.startswith("import time:")]
    assert "torch" in loaded  # the check sees the imports
    assert not [m for m in loaded if m.split(".")[0] in LIGHTNING]


@pytest.mark.parametrize("name", TORCH_FREE_ENTRY_POINTS)
def test_torch_free_entry_points(name):
    modules, external = reachable(name)
    assert not external & (TORCH | LIGHTNING), (
        f"{name} imports {sorted(external & (TORCH | LIGHTNING))} "
        f"through {sorted(m for m in modules if EXTERNAL[m] & (TORCH | LIGHTNING))}")
    res = run_python("-c", f"import sys, {name}\nprint(sorted({{m.split('.')[0] for m in "
                     "sys.modules} & {'torch', 'pytorch_lightning', 'lightning'}))")
    assert res.returncode == 0 and res.stdout == "[]\n", res.stderr[-2000:]


def test_web_page_loads_only_its_own_files_and_onnxruntime_web():
    """Every import, src and href of the page is one of its own files or under /ort/ (the
    onnxruntime-web dist files fststyle.serve serves): it works offline and has no CDN."""
    web = PACKAGE / "web"
    pages = sorted(web.glob("*.html")) + sorted(web.glob("*.js"))
    assert {p.name for p in pages} >= {"index.html", "app.js", "model.js"}
    pattern = r'(?:\bfrom\s*|\bimport\s*\(?\s*|\b(?:src|href)=)["\']([^"\']+)["\']'
    for page in pages:
        for target in re.findall(pattern, page.read_text()):
            local = (web / target.removeprefix("./")).is_file()
            assert local or target.startswith("/ort/") or target == "data:,", (page.name, target)
