#!/bin/sh
# The CI step of the Flux recipe: render the chart in gate mode and push the result as an
# OCI artifact, tagged with the environment, for the OCIRepository in source.yaml.
#
#   examples/flux/ci.sh CHART RELEASE ENVIRONMENT OCI_URL [helm template flags...]
#
# Needs helm, deploy-jobs and flux on PATH (and a `flux push` login to the registry).
# SOURCE and REVISION describe the commit for `flux push artifact` (defaults: from git);
# OUT_DIR is the artifact directory (default flux-artifact).
set -eu
chart=${1:?usage: ci.sh CHART RELEASE ENVIRONMENT OCI_URL [helm template flags...]}
release=${2:?release name}
environment=${3:?environment}
url=${4:?oci:// URL of the artifact, without a tag}
shift 4
out=${OUT_DIR:-flux-artifact}
source=${SOURCE:-$(git config --get remote.origin.url)}
revision=${REVISION:-$(git rev-parse --abbrev-ref HEAD)@sha1:$(git rev-parse HEAD)}
tag=${revision##*:}
tag=$(printf '%.12s' "$tag")

rm -rf "$out"
mkdir -p "$out"
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
# One step at a time: sh has no pipefail, and a helm that fails must fail the build, not
# hand deploy-jobs an empty stream (which it refuses anyway).
helm template "$release" "$chart" --namespace "$release" "$@" >"$rendered"
deploy-jobs render --target gate --env "$environment" <"$rendered" >"$out/$release.yaml"
# The plan in the build log: which Job runs, what it holds, and the warnings.
deploy-jobs plan --target gate --env "$environment" <"$rendered"

flux push artifact "$url:$tag" --path="$out" --source="$source" --revision="$revision"
flux tag artifact "$url:$tag" --tag "$environment"
