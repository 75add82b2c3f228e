#!/usr/bin/env bash
# Test what users install, not the checkout:
#   1. build the sdist, then the wheel from the sdist (so the sdist is complete and no
#      build/ folder is left in the checkout); the wheel carries LICENSE and py.typed;
#   2. install the wheel (with the test extras) into a fresh venv and run the test suite
#      against it from outside the checkout (test_package checks where autograd came from);
#   3. HIPS autograd (from PyPI) and the wheel in fresh venvs, in both install orders:
#      the clear message, `tapegrad doctor` exits 1; the README's fix makes it exit 0.
# Called by .ci/run with the CI venv active (it has `build`).  Any failure stops with a message.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=${PYTHON:-python}

fail() {
  echo "wheel check FAILED: $*" >&2
  exit 1
}

echo "== wheel: build the sdist and the wheel"
"$python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "python -m build"; }
wheel=$(ls "$work"/dist/tapegrad-*.whl)
sdist=$(ls "$work"/dist/tapegrad-*.tar.gz)
"$python" - "$wheel" "$sdist" <<'EOF'
import sys, tarfile, zipfile

wheel, sdist = sys.argv[1:]
names = zipfile.ZipFile(wheel).namelist()
for need in ("autograd/py.typed", "nn/py.typed", "autograd/_clash.py", "nn/_doctor_cmd.py"):
    assert need in names, f"the wheel has no {need}"
licences = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
assert licences, "the wheel carries no LICENSE"
zf = zipfile.ZipFile(wheel)
assert b"MIT License" in zf.read(licences[0])
meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
assert "License-Expression: MIT" in meta, "no SPDX License-Expression in METADATA"
assert "Project-URL: Source, https://github.com/tapegrad/tapegrad" in meta
tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
assert tops == {"autograd", "nn"}, f"unexpected top-level names in the wheel: {tops}"
members = tarfile.open(sdist).getnames()
for need in ("LICENSE", "README.md", "pyproject.toml"):
    assert any(m.endswith("/" + need) for m in members), f"the sdist has no {need}"
print(f"   {wheel.rsplit('/', 1)[1]}: {len(names)} files, LICENSE and py.typed in place")
EOF

echo "== wheel: install it into a fresh venv and run the tests from outside the checkout"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$wheel[dev]" || fail "pip install the wheel with [dev]"
mkdir "$work/run"
(
  cd "$work/run"
  where=$("$work/venv/bin/python" -c "import autograd, nn; print(autograd.__file__)")
  case "$where" in
    "$work"/venv/*) echo "   autograd is $where" ;;
    *) fail "autograd came from $where, not from the installed wheel" ;;
  esac
  "$work/venv/bin/tapegrad" --version
  TAPEGRAD_TEST_INSTALLED=1 "$work/venv/bin/python" -m pytest -p no:cacheprovider \
    "$repo/tests" -m "not notebooks and not slow" -q -x  # slow ones run in the main suite
) || fail "the test suite against the installed wheel"

# The name clash for real: HIPS autograd from PyPI and the wheel, each order in a fresh venv.
clash_venv() {
  "$python" -m venv "$work/$1"
  local pip="$work/$1/bin/python -m pip install -q"
  if [ "$1" = hips-first ]; then
    $pip autograd && $pip "$wheel"
  else
    $pip "$wheel" && $pip autograd
  fi
}
expect() { # expect TEXT FILE: the file holds the text
  grep -qF -- "$1" "$2" || { cat "$2"; fail "expected \"$1\" in the output above"; }
}
recipe='pip uninstall -y autograd tapegrad && pip install tapegrad'

echo "== clash: HIPS autograd installed, then tapegrad (ours owns autograd/__init__.py)"
clash_venv hips-first || fail "installing HIPS autograd then tapegrad"
bin="$work/hips-first/bin"
(cd "$work/run" && "$bin/python" -c "import nn; nn.MLP" 2>"$work/out") ||
  { cat "$work/out"; fail "import nn failed with our autograd in place"; }
expect "NameClashWarning: HIPS autograd's modules" "$work/out"
expect "$recipe" "$work/out"
status=0
(cd "$work/run" && "$bin/tapegrad" doctor >"$work/out" 2>&1) || status=$?
[ "$status" = 1 ] || { cat "$work/out"; fail "tapegrad doctor exited $status, not 1"; }
expect "PROBLEM: HIPS autograd's modules" "$work/out"
sed 's/^/   | /' "$work/out"

echo "== clash: tapegrad installed, then HIPS autograd (HIPS owns autograd/__init__.py)"
clash_venv tapegrad-first || fail "installing tapegrad then HIPS autograd"
bin="$work/tapegrad-first/bin"
status=0
(cd "$work/run" && "$bin/python" -c "import nn" 2>"$work/out") || status=$?
[ "$status" = 1 ] || { cat "$work/out"; fail "import nn exited $status, not 1"; }
expect "ImportError: tapegrad needs its own \`autograd\` package" "$work/out"
expect "that file was installed by: autograd " "$work/out"
expect "$recipe" "$work/out"
status=0
(cd "$work/run" && "$bin/tapegrad" train --epochs 1 2>"$work/out") || status=$?
[ "$status" = 1 ] || { cat "$work/out"; fail "tapegrad train exited $status, not 1"; }
grep -q Traceback "$work/out" && { cat "$work/out"; fail "tapegrad train printed a traceback"; }
expect "tapegrad: tapegrad needs its own" "$work/out"
status=0
(cd "$work/run" && "$bin/tapegrad" doctor >"$work/out" 2>&1) || status=$?
[ "$status" = 1 ] || { cat "$work/out"; fail "tapegrad doctor exited $status, not 1"; }
expect "PROBLEM: tapegrad needs its own" "$work/out"
sed 's/^/   | /' "$work/out"

echo "== clash: the README's fix (uninstall both, install tapegrad) makes doctor happy"
"$bin/python" -m pip uninstall -q -y autograd tapegrad
"$bin/python" -m pip install -q "$wheel"
(cd "$work/run" && "$bin/python" -W error -c "import nn; nn.MLP" && "$bin/tapegrad" doctor >"$work/out" 2>&1) ||
  { cat "$work/out"; fail "after the fix, tapegrad doctor still reports a problem"; }
expect "OK: \`autograd\` and \`nn\` are tapegrad's" "$work/out"
echo "== wheel check passed"
