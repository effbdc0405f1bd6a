# The FastCGI handler groups: the one list. A group NAME is the program chat-NAME (its route table NAME_routes() in
# handlers/NAME.cpp), listening on NAME.sock behind the nginx upstream chat_NAME. cmake/chat_groups.cmake generates
# from this list each main, handlers/routes.hpp, the install rules, build/chat-groups.txt (what deploy/stack.sh
# starts), nginx's upstreams and locations (build/nginx/chat-group-*.conf) and build/systemd/chat-handlers.target;
# docs/gen_openapi.py asks each built program for its route table (chat-NAME --routes).
#
# chat_handler_group(NAME [CLI] [NO_PREFIX] [RATE_LIMITED LOCATION...] [LOCATIONS LOCATION...]
#                    [LOCAL_ONLY LOCATION...])
#   Without NO_PREFIX nginx sends `= /api/v1/NAME` and `/api/v1/NAME/` to the group. A LOCATION is what follows
#   `location` in nginx ("= /health", "~ ^/regex$"); one listed here takes the place of a default with the same text.
#   RATE_LIMITED  under nginx's `auth` limit_req zone (POSTs only, one bucket per client address:
#                 docs/api.md#rate-limits)
#   LOCATIONS     more plain locations
#   LOCAL_ONLY    answered to loopback clients only (403 elsewhere)
#   CLI           chat-NAME with arguments runs NAME_command() of handlers/NAME_cli.hpp (the operator's command)
# The exceptions live here, not in the nginx template, because nginx takes one `location = X` per X: a rate-limited
# `= /api/v1/users` must replace the group's default location, so the generator of the defaults has to know it.

chat_handler_group(auth
  RATE_LIMITED "~ ^/api/v1/auth/(login|login/access-token|register|refresh)/?$")
# POST /users/ is the headless registration, limited as /auth/register is (GET /users/ is not: POSTs only).
chat_handler_group(users
  RATE_LIMITED "= /api/v1/users" "= /api/v1/users/")
chat_handler_group(system NO_PREFIX
  LOCATIONS "= /" "= /health" "= /health/"
  LOCAL_ONLY "= /metrics" "= /metrics/")
# Message sends are limited per user by the handlers (a bucket in Redis): nginx cannot see the user.
chat_handler_group(channels)
chat_handler_group(messages)
chat_handler_group(conversations)
# Moderation (docs/api.md#moderation): global admins only, the handler checks.
chat_handler_group(admin CLI)
