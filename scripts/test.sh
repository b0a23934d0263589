#!/usr/bin/env bash
# The whole test suite, in the order CI runs it: `bash scripts/test.sh` from any directory.
#
# 1. a virtualenv at <repo>/.venv with the `test` extra of pyproject.toml (reference
#    implementations `tokenizers` and `tiktoken`, pytest, hypothesis, mypy, ruff) and maturin;
# 2. the Rust gates: cargo fmt --check, clippy -D warnings (with the `python` feature),
#    cargo test (the core, without Python);
# 3. ferrotok built in release mode and installed into the venv (maturin develop);
# 4. the Python gates: ruff check, ruff format --check, mypy.stubtest on ferrotok._native, mypy
#    on the package (python/ferrotok, with the stubs);
# 5. pytest: tests/ (conformance on ../shared/data, hypothesis properties, API), the doctests of
#    python/ferrotok and the README examples.
#
# Environment:
#   FERROTOK_DATA      the shared data folder (default: <repo>/../shared/data)
#   FERROTOK_FAST=1    skip the Rust gates (fmt, clippy, cargo test): for quick local iterations
#   PYTEST_ARGS        extra arguments for pytest (e.g. "-k conformance -x")
#   CI                 set by CI: hypothesis runs derandomized (see tests/conftest.py)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

started=$SECONDS
step() {
    printf '\n==> [%4ds] %s\n' "$((SECONDS - started))" "$*"
}

# --- shared data -------------------------------------------------------------------------------
export FERROTOK_DATA="${FERROTOK_DATA:-$repo/../shared/data}"
if [[ ! -f "$FERROTOK_DATA/MANIFEST.md" ]]; then
    echo "error: shared test data not found at $FERROTOK_DATA (set FERROTOK_DATA)" >&2
    exit 1
fi
FERROTOK_DATA="$(cd "$FERROTOK_DATA" && pwd)"

# --- build settings ----------------------------------------------------------------------------
# The release profile (lto = "fat", codegen-units = 1) is for wheels. The tests need optimised
# code (the conformance suite tokenizes megabytes) but not the last few percent, and a thin-LTO
# build with parallel codegen takes a fraction of the time on a 2-core machine. A caller may
# still override these from the environment.
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-thin}"
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-16}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# --- virtualenv --------------------------------------------------------------------------------
venv="$repo/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
    step "creating virtualenv $venv"
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"
export PYO3_PYTHON="$py"
unset PYTHONHOME

step "installing test dependencies (pyproject.toml [test] extra, maturin)"
# The `test` extra is read from pyproject.toml so that the list lives in one place.
mapfile -t test_requirements < <("$py" - <<'EOF'
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

with open("pyproject.toml", "rb") as f:
    raw = f.read()
if tomllib is not None:
    project = tomllib.loads(raw.decode())["project"]
    requirements = project["optional-dependencies"]["test"] + project.get("dependencies", [])
else:
    text = raw.decode()
    match = re.search(r"^test\s*=\s*\[(.*?)\]", text, re.M | re.S)
    requirements = re.findall(r'"([^"]+)"', match.group(1)) if match else []
    deps = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
    requirements += re.findall(r'"([^"]+)"', deps.group(1)) if deps else []
if not requirements:
    sys.exit("pyproject.toml declares no [project.optional-dependencies] test")
print("\n".join(requirements))
EOF
)
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2" "${test_requirements[@]}"

# --- Rust gates --------------------------------------------------------------------------------
if [[ "${FERROTOK_FAST:-0}" != "1" ]]; then
    step "cargo fmt --check"
    cargo fmt --all --check

    # One clippy run covers the core and the bindings (the bindings are only added by the feature).
    step "cargo clippy --all-targets --features python -- -D warnings"
    cargo clippy --all-targets --features python -- -D warnings

    step "cargo test (core, without Python)"
    cargo test
fi

# --- build and install ferrotok ----------------------------------------------------------------
step "maturin develop --release (LTO=$CARGO_PROFILE_RELEASE_LTO, codegen-units=$CARGO_PROFILE_RELEASE_CODEGEN_UNITS)"
# An editable install: python/ferrotok on the path, the native module built into it. The
# dependencies are already there, so pip has nothing else to do.
"$py" -m maturin develop --release
"$py" -c 'import ferrotok, ferrotok._native; print("ferrotok", getattr(ferrotok, "__version__", "?"), "from", ferrotok.__file__)'

# --- Python gates ------------------------------------------------------------------------------
python_paths=()
for path in python tests benches scripts; do
    [[ -d "$path" ]] && python_paths+=("$path")
done

step "ruff check ${python_paths[*]}"
"$py" -m ruff check "${python_paths[@]}"

step "ruff format --check ${python_paths[*]}"
"$py" -m ruff format --check "${python_paths[@]}"

step "mypy.stubtest ferrotok._native"
stubtest_args=(ferrotok._native)
if [[ -f scripts/stubtest-allowlist.txt ]]; then
    stubtest_args+=(--allowlist scripts/stubtest-allowlist.txt)
fi
"$py" -m mypy.stubtest "${stubtest_args[@]}"

step "mypy python/ferrotok"
"$py" -m mypy python/ferrotok

# --- pytest ------------------------------------------------------------------------------------
step "pytest tests/, doctests of python/ferrotok and README.md"
pytest_targets=(tests python/ferrotok)
doctest_args=(--doctest-modules)
if grep -q '^>>> ' README.md 2>/dev/null; then
    pytest_targets+=(README.md)
    doctest_args+=(--doctest-glob=README.md)
fi
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words on purpose
set +e
"$py" -m pytest "${doctest_args[@]}" "${pytest_targets[@]}" ${PYTEST_ARGS:-}
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "error: pytest collected no tests" >&2
    exit 1
elif [[ $status -ne 0 ]]; then
    exit "$status"
fi

step "all checks passed"
