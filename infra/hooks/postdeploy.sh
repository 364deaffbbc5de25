#!/bin/sh
# azd postdeploy hook: once the code (and so the arm_events function) exists, subscribe it to the ACI resource
# group's ARM events by provisioning again with ENABLE_ARM_EVENTS=true. Later deploys find it on and do nothing.
set -eu
if [ "${ENABLE_ARM_EVENTS:-false}" = "true" ] && [ "${ARM_EVENTS_ENABLED:-false}" = "true" ]; then
  echo "ARM events already delivered to arm_events; nothing to do."
  exit 0
fi
echo "Subscribing arm_events to ARM events of resource group ${ACI_RESOURCE_GROUP:-?} ..."
azd env set ENABLE_ARM_EVENTS true
azd provision --no-prompt
