#!/usr/bin/env bash
# The whole API session in curl, top to bottom, against the example site:
#
#   make demo                                 # in one terminal
#   bash example_project/walkthrough.sh       # in another
#
# Each step prints the request's answer (tokens shortened: never print a whole
# one in a real log) and stops the script if the answer is not the one expected.
# The login token and the code are read from the newest email to $EMAIL in the
# demo's file outbox, as a person reads them in the email.
#
# Environment (all optional):
#   BASE    the site                         (http://127.0.0.1:8000)
#   OUTBOX  the file backend's directory     (example_project/outbox)
#   EMAIL   the address that signs in        (alice@example.com; created on first use)
#   PYTHON  a Python 3 for JSON and email    (python3)
# Each run asks for two links, and an address gets 5 an hour (request_email):
# run it again within the hour with another EMAIL.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=${BASE:-http://127.0.0.1:8000}
OUTBOX=${OUTBOX:-$HERE/outbox}
EMAIL=${EMAIL:-alice@example.com}
PYTHON=${PYTHON:-python3}

step() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

# field NAME: one field of the JSON object on stdin.
field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# show: the JSON on stdin, each token (a long string without spaces) cut short.
show() {
    "$PYTHON" -c '
import json, sys
raw = sys.stdin.read()
data = json.loads(raw) if raw.strip() else None
cut = lambda v: v[:12] + "..." if isinstance(v, str) and len(v) > 40 and " " not in v else v
print(json.dumps({k: cut(v) for k, v in data.items()} if isinstance(data, dict) else data))'
}

# call EXPECTED_STATUS METHOD PATH [curl options...]: the body; stops on another status.
call() {
    local expected=$1 method=$2 path=$3 answer status
    shift 3
    answer=$(curl -sS -X "$method" "$BASE$path" -w '\n%{http_code}' "$@")
    status=${answer##*$'\n'}
    answer=${answer%$'\n'*}
    if [ "$status" != "$expected" ]; then
        echo "$method $path answered $status, not $expected: $answer" >&2
        exit 1
    fi
    printf '%s' "$answer"
}

# post_json EXPECTED_STATUS PATH JSON [curl options...]
post_json() {
    local expected=$1 path=$2 body=$3
    shift 3
    call "$expected" POST "$path" -H 'Content-Type: application/json' -d "$body" "$@"
}

# from_email token|code: the login token (the link's token= part) or the code of the
# newest email to $EMAIL, read with the demo's own outbox reader.
from_email() {
    PYTHONPATH=$HERE "$PYTHON" - "$OUTBOX" "$EMAIL" "$1" <<'EOF'
import re, sys
from urllib.parse import unquote
from site_config.outbox import read_outbox

directory, to, what = sys.argv[1:]
mail = next((m for m in read_outbox(directory) if m.to.lower() == to.lower()), None)
if mail is None:
    sys.exit(f"no email to {to} in {directory}")
pattern = r"/auth/verify/\?token=([\w.%-]+)" if what == "token" else r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b"
print(unquote(re.search(pattern, mail.body).group(1)))
EOF
}

step "1. request: the email holds a link .../auth/verify/?token=<login token> and a code"
post_json 202 /auth/request/ "{\"email\": \"$EMAIL\"}" | show
TOKEN=$(from_email token)

step "2. token: trade the link's token for a pair (once)"
PAIR=$(post_json 200 /auth/token/ "{\"token\": \"$TOKEN\"}")
echo "$PAIR" | show
ACCESS=$(echo "$PAIR" | field access)
REFRESH=$(echo "$PAIR" | field refresh)

step "3. call the API with the access token (the example site's /api/me/)"
call 200 GET /api/me/ -H "Authorization: Bearer $ACCESS" | show

step "4. refresh before the access token expires; keep the NEW pair"
PAIR=$(post_json 200 /auth/token/refresh/ "{\"refresh\": \"$REFRESH\"}")
echo "$PAIR" | show
ACCESS=$(echo "$PAIR" | field access)
REFRESH=$(echo "$PAIR" | field refresh)

step "5. another device: a new email, and its code typed there instead of the link"
post_json 202 /auth/request/ "{\"email\": \"$EMAIL\"}" | show
CODE=$(from_email code)
PAIR2=$(post_json 200 /auth/code/ "{\"email\": \"$EMAIL\", \"code\": \"$CODE\"}")
echo "$PAIR2" | show
ACCESS2=$(echo "$PAIR2" | field access)
REFRESH2=$(echo "$PAIR2" | field refresh)

step "6. logout: the first session only; its tokens stop working at once"
call 204 POST /auth/logout/ -H "Authorization: Bearer $ACCESS"
echo 204
echo "a refused token (the first session's access token):"
call 401 GET /api/me/ -H "Authorization: Bearer $ACCESS" | show

step "7. logout everywhere, with the second session's (still valid) access token"
call 204 POST /auth/logout/all/ -H "Authorization: Bearer $ACCESS2"
echo 204
call 401 GET /api/me/ -H "Authorization: Bearer $ACCESS2" | show

step "8. revoke a token you hold (RFC 7009: 200 even when it is already revoked)"
post_json 200 /auth/token/revoke/ "{\"token\": \"$REFRESH2\"}" | show
echo "its refresh is refused:"
post_json 400 /auth/token/refresh/ "{\"refresh\": \"$REFRESH2\"}" | show

printf '\nThe walkthrough ran to the end.\n'
