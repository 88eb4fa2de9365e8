#!/bin/sh
# The image's entrypoint: one role per container, each checking its stores before it starts.
#   rasa          the Rasa server (endpoints.production.yml: PostgreSQL trackers, Redis locks)
#   actions       the action server (ACTION_SERVER_SANIC_WORKERS workers; tickets in TICKETS_DB_URL)
#   tickets-api   the staff ticket API
#   check-stores  only the preflight (tools/check_stores.py), e.g. as a Kubernetes init container
#   anything else is run as a command (e.g. `python -m tickets.cli list`)
# Settings: the environment variables of the README's "Settings" table. The image sets
# ALIMAIL_PROFILE=production, so TICKETS_DB_URL defaults to the tracker database (core/settings.py,
# the same rule as scripts/run.sh); an invalid setting stops the container here, with its name.
set -eu
cd /opt/alimail

ENDPOINTS=${RASA_ENDPOINTS:-endpoints.production.yml}
TICKETS_DB_URL=$(python -m core.settings tickets-db-url)
export TICKETS_DB_URL

role=${1:-rasa}
[ "$#" -gt 0 ] && shift
case "$role" in
  rasa)
    # Refuse (exit 1, with the reason) instead of starting on an unreachable store; the stores in
    # stores/strict.py check again inside Rasa.
    python -m tools.check_stores --endpoints "$ENDPOINTS" --require-shared --no-tickets
    exec python -m tools.serve run --model "${RASA_MODEL:-models}" --interface 0.0.0.0 --port "${RASA_PORT:-5005}" \
      --credentials "${RASA_CREDENTIALS:-credentials.yml}" --endpoints "$ENDPOINTS" "$@"
    ;;
  actions)
    python -m tools.check_stores --tickets-only
    export SANIC_HOST=0.0.0.0 ACTION_SERVER_SANIC_WORKERS="${ACTION_PROCESSES:-2}"
    exec python -m rasa_sdk --actions actions --port "${ACTION_PORT:-5055}" "$@"
    ;;
  tickets-api)
    python -m tools.check_stores --tickets-only
    exec python -m tickets.api --host 0.0.0.0 --port "${TICKETS_API_PORT:-5056}" "$@"
    ;;
  check-stores)
    exec python -m tools.check_stores --endpoints "$ENDPOINTS" --require-shared "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
