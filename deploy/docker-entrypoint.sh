#!/bin/sh
# The image's entrypoint: one role per container, each checking its stores before it starts.
#   rasa          the Rasa server (endpoints.production.yml: PostgreSQL trackers, Redis locks)
#   actions       the action server (ACTION_PROCESSES workers; tickets in TICKETS_DB_URL; needs ACTION_SERVER_TOKEN)
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
    # tools.serve refuses to start without ACTION_SERVER_TOKEN, and without REST_API_TOKEN while the
    # credentials file has the REST channel (0.0.0.0 is exposed; SECURITY.md).
    exec python -m tools.serve run --model "${RASA_MODEL:-models}" --interface 0.0.0.0 --port "${RASA_PORT:-5005}" \
      --credentials "${RASA_CREDENTIALS:-credentials.yml}" --endpoints "$ENDPOINTS" "$@"
    ;;
  actions)
    python -m tools.check_stores --tickets-only
    # Refuses to start without ACTION_SERVER_TOKEN (production profile); every call but /health needs it.
    export ACTION_SERVER_SANIC_WORKERS="${ACTION_PROCESSES:-2}"
    exec python -m tools.serve actions --actions actions --host 0.0.0.0 --port "${ACTION_PORT:-5055}" "$@"
    ;;
  tickets-api)
    python -m tools.check_stores --tickets-only
    # Listens on TICKETS_API_HOST (127.0.0.1 unless set; docker-compose sets 0.0.0.0 for its port mapping).
    exec python -m tickets.api --port "${TICKETS_API_PORT:-5056}" "$@"
    ;;
  check-stores)
    exec python -m tools.check_stores --endpoints "$ENDPOINTS" --require-shared "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
