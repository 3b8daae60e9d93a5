#!/usr/bin/env bash
# Stand-in for a project's CDK CLI in the deploy/synth tests; Aphex runs it as
# `bash fake_cdk.sh <cdk args>` (APHEX_CDK_COMMAND / deps.cdkCommand).
#   synth ... --output DIR         writes $FAKE_CDK_MANIFEST to DIR/manifest.json, with
#                                  @ACCOUNT@/@REGION@ replaced by CDK_DEFAULT_ACCOUNT/REGION;
#                                  exits 3 when $FAKE_CDK_SYNTH_FAIL is set; copies
#                                  $FAKE_CDK_TEMPLATES/*.template.json to DIR when set.
#   deploy NAME --app DIR ... --outputs-file FILE
#                                  appends "deploy NAME" to $FAKE_CDK_CALLS; exits 1 when NAME is
#                                  listed in $FAKE_CDK_FAIL; prints "(no changes)" when
#                                  $FAKE_CDK_NO_CHANGES=1; writes FILE; with
#                                  $FAKE_CDK_DEPLOY_SECONDS it takes that long and then appends
#                                  "done NAME". With
#                                  --method=prepare-change-set --change-set-name CS it appends
#                                  "prepare NAME CS" instead and creates nothing (the test's
#                                  CloudFormation mock answers for the change set).
# It echoes the credentials it received so the tests can prove they are redacted in the logs.
set -euo pipefail
cmd="${1:-}"
shift || true
case "$cmd" in
synth)
  out=""
  while [ $# -gt 0 ]; do
    if [ "$1" = "--output" ]; then out="$2"; shift; fi
    shift
  done
  echo "synth for ${CDK_DEFAULT_ACCOUNT}/${CDK_DEFAULT_REGION} region ${AWS_REGION}"
  if [ -n "${FAKE_CDK_SYNTH_FAIL:-}" ]; then
    echo "Error: synth exploded" >&2
    exit 3
  fi
  sed -e "s/@ACCOUNT@/${CDK_DEFAULT_ACCOUNT}/g" -e "s/@REGION@/${CDK_DEFAULT_REGION}/g" \
    "$FAKE_CDK_MANIFEST" >"$out/manifest.json"
  if [ -n "${FAKE_CDK_TEMPLATES:-}" ]; then cp "$FAKE_CDK_TEMPLATES"/*.template.json "$out/"; fi
  ;;
deploy)
  stack="$1"
  shift
  outputs=""
  app=""
  method=""
  changeset=""
  while [ $# -gt 0 ]; do
    case "$1" in
    --outputs-file) outputs="$2"; shift ;;
    --app) app="$2"; shift ;;
    --method=*) method="${1#--method=}" ;;
    --change-set-name) changeset="$2"; shift ;;
    esac
    shift
  done
  if [ ! -f "$app/manifest.json" ]; then
    echo "fake cdk: --app $app is not a cloud assembly" >&2
    exit 65
  fi
  if [ "$method" = "prepare-change-set" ]; then
    echo "prepare $stack $changeset" >>"$FAKE_CDK_CALLS"
    case " ${FAKE_CDK_FAIL:-} " in
    *" $stack "*) echo "❌  $stack: change set failed" >&2; exit 1 ;;
    esac
    echo "$stack: changeset $changeset created"
    exit 0
  fi
  echo "deploy $stack" >>"$FAKE_CDK_CALLS"
  if [ -n "${FAKE_CDK_DEPLOY_SECONDS:-}" ]; then
    sleep "$FAKE_CDK_DEPLOY_SECONDS"
    echo "done $stack" >>"$FAKE_CDK_CALLS"
  fi
  echo "$stack: key ${AWS_ACCESS_KEY_ID:-none} secret ${AWS_SECRET_ACCESS_KEY:-none} token ${AWS_SESSION_TOKEN:-none}"
  echo "$stack: canary ${APHEX_TEST_API_TOKEN:-none}" >&2
  case " ${FAKE_CDK_FAIL:-} " in
  *" $stack "*)
    echo "❌  $stack failed: Error: The stack named $stack failed to deploy: UPDATE_ROLLBACK_COMPLETE" >&2
    exit 1
    ;;
  esac
  if [ "${FAKE_CDK_NO_CHANGES:-}" = "1" ]; then
    echo " ✅  $stack (no changes)"
  else
    echo " ✅  $stack"
  fi
  printf '{"%s":{"FromCdk":"yes"}}\n' "$stack" >"$outputs"
  ;;
*)
  echo "fake cdk: unknown command $cmd" >&2
  exit 64
  ;;
esac
