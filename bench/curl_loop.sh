#!/usr/bin/env bash
# The shell baseline of `cargo xtask bench`: one `curl` process per update, one after another, as a script
# would do it. Prints each answer's HTTP status on its own line.
#
# usage: ETORO_API_KEY=.. ETORO_USER_KEY=.. curl_loop.sh URL_TEMPLATE API_VERSION FILE.tsv
#   URL_TEMPLATE: the endpoint's URL with {portfolio} and {token} where the ids go.
#   FILE.tsv: portfolio<TAB>token<TAB>request-id<TAB>json-body per line (written by the bench).
set -u
template=$1
api_version=$2
file=$3
portfolio_slot='{portfolio}'
token_slot='{token}'
while IFS=$'\t' read -r portfolio token request_id body; do
    url=${template/"$portfolio_slot"/$portfolio}
    url=${url/"$token_slot"/$token}
    curl -s -o /dev/null -w '%{http_code}\n' -X PATCH \
        -H "x-api-key: $ETORO_API_KEY" \
        -H "x-user-key: $ETORO_USER_KEY" \
        -H "x-request-id: $request_id" \
        -H 'content-type: application/json' \
        -H 'accept: application/json' \
        -H "api-version: $api_version" \
        --data-binary "$body" \
        "$url"
done <"$file"
