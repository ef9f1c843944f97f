#!/usr/bin/env bash
# The security groups of phase 6 on AWS, with the AWS CLI: the same rules
# `make phase6` enforces on one machine with network namespaces and
# nftables (the map prints them; src/stack/network.rs holds them, and a test
# checks this file against them). Each group admits only what is listed
# below; everything else is refused, as a security group does by default.
#
#   VPC_ID=vpc-0123 ADMIN_CIDR=203.0.113.7/32 deploy/aws/security-groups.sh
#
# ADMIN_CIDR is where the HAProxy stats page may be reached from (an office
# or a bastion), never 0.0.0.0/0.
set -euo pipefail

: "${VPC_ID:?set VPC_ID to the VPC the hosts live in}"
: "${ADMIN_CIDR:?set ADMIN_CIDR to the admin network, e.g. 203.0.113.7/32}"

group() {
  aws ec2 create-security-group --vpc-id "$VPC_ID" --group-name "million-$1" \
    --description "million: $2" --query GroupId --output text
}

lb=$(group lb "the load balancer (HAProxy)")
static=$(group static "static files (nginx)")
app=$(group app "the app servers")
db=$(group db "PostgreSQL, the primary and its replicas")
cache=$(group cache "Redis, the cache tier")

# allow GROUP PORT FROM: GROUP accepts TCP on PORT from FROM, which is
# `anywhere`, `admin` (ADMIN_CIDR) or another group.
allow() {
  local to="${!1}" port="$2" from="$3"
  case "$from" in
    anywhere) aws ec2 authorize-security-group-ingress --group-id "$to" \
                --protocol tcp --port "$port" --cidr 0.0.0.0/0 ;;
    admin)    aws ec2 authorize-security-group-ingress --group-id "$to" \
                --protocol tcp --port "$port" --cidr "$ADMIN_CIDR" ;;
    *)        aws ec2 authorize-security-group-ingress --group-id "$to" \
                --protocol tcp --port "$port" --source-group "${!from}" ;;
  esac >/dev/null
  echo "million-$1 accepts $port from $from"
}

allow lb 80 anywhere      # HTTP, redirected to HTTPS
allow lb 443 anywhere     # HTTPS
allow lb 8404 admin       # the stats page, behind a password
allow static 80 lb        # static files
allow app 8000 lb         # requests
allow db 5432 app         # queries, to the primary and the replicas
allow db 5432 db          # replication, replicas to the primary
allow cache 6379 app      # the cache
