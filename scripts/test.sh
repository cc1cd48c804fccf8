#!/usr/bin/env bash
# The test command (README, CI): formatting, clippy, every test, generated files fresh, cfn-lint, checkov.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== python tools"
python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

echo "== workspace-hack fresh (the builds of the CLI, the stages and the tests share their dependencies)"
python3 scripts/workspace-hack.py --check

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test (with the tests that start a local moto server)"
cargo test --workspace --locked -- --include-ignored

echo "== pytest scripts/emulator (the patched moto launcher)"
python3 -m pytest -q scripts/emulator/test_pipewright_moto.py

echo "== generate --check (every spec: template, parameters, crontabs, RUNBOOK.md)"
# The binary `cargo test --workspace` just built for the integration tests: `cargo run` alone resolves
# the workspace's features differently (no dev-dependencies) and would rebuild the AWS SDK (~4 min).
target_dir=$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
pipewright="$target_dir/debug/pipewright"
for spec in specs/*.yaml; do
  "$pipewright" generate "$spec" --check
done

echo "== cfn-lint (with the serverless rules) on every generated template"
cfn-lint --version
cfn-lint generated/*/template.yaml --append-rules cfn_lint_serverless.rules
echo "cfn-lint: no findings"

echo "== cfn-lint and checkov on pipelines of other shapes (three fixtures, a synthetic spec of 12 stages)"
shapes=$(mktemp -d)
trap 'rm -rf "$shapes"' EXIT
"$pipewright" generate tests/fixtures/sensor-chain.yaml --out "$shapes" >/dev/null
"$pipewright" generate tests/fixtures/sensor-tables.yaml --out "$shapes" >/dev/null
"$pipewright" generate tests/fixtures/tide-gauges.yaml --out "$shapes" >/dev/null
"$pipewright" synth --stages 12 >"$shapes/synth.yaml"
"$pipewright" generate "$shapes/synth.yaml" --out "$shapes" >/dev/null
cfn-lint "$shapes"/*/template.yaml --append-rules cfn_lint_serverless.rules
# checkov in an environment of its own (requirements-checkov.txt says why).
checkov_env="$target_dir/checkov-env"
python3 -m venv "$checkov_env"
"$checkov_env/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
"$checkov_env/bin/checkov" --version
CHECKOV="$checkov_env/bin/checkov" python3 scripts/checkov.py generated "$shapes"

echo "== the offline gate (--no-default-features: check, generate, docs, graph, schema, explain; no tokio, no AWS SDK)"
# Last: its binary replaces the full one in target/debug.
if cargo tree --locked --no-default-features -p pipewright -e normal,build --prefix none | grep -E '^(tokio|aws-[a-z-]+) '; then
  echo "the offline gate depends on tokio or the AWS SDK (above)"; exit 1
fi
cargo clippy --locked --no-default-features --lib --bin pipewright -- -D warnings
cargo build --locked --no-default-features --bin pipewright
for spec in specs/*.yaml; do
  "$pipewright" check "$spec" >/dev/null
  "$pipewright" generate "$spec" --check
done
set +e
"$pipewright" --color never verify specs/minimal.yaml 2>"$shapes/offline.err"; code=$?
set -e
if [ "$code" != 2 ] || ! grep -q "offline gate" "$shapes/offline.err"; then
  echo "the offline gate's answer to an AWS command (exit $code):"; cat "$shapes/offline.err"; exit 1
fi
echo "offline gate: builds without tokio and the AWS SDK, checks and generates every spec"
