# The security groups of phase 6 on AWS, as Terraform: the same rules
# `make phase6` enforces on one machine with network namespaces and nftables,
# and deploy/aws/security-groups.sh creates with the AWS CLI (a test checks
# both against the stack's own table, src/stack/network.rs). Plus the bucket
# policy that refuses any request to the uploads bucket made without TLS.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

variable "vpc_id" {
  description = "The VPC the hosts live in."
  type        = string
}

variable "admin_cidr" {
  description = "Where the HAProxy stats page may be reached from (an office or a bastion), never 0.0.0.0/0."
  type        = string
}

variable "bucket" {
  description = "The S3 bucket for uploads and backups."
  type        = string
}

resource "aws_security_group" "lb" {
  name        = "million-lb"
  description = "million: the load balancer (HAProxy)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "static" {
  name        = "million-static"
  description = "million: static files (nginx)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "app" {
  name        = "million-app"
  description = "million: the app servers"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "db" {
  name        = "million-db"
  description = "million: PostgreSQL, the primary and its replicas"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "cache" {
  name        = "million-cache"
  description = "million: Redis, the cache tier"
  vpc_id      = var.vpc_id
}

# HTTP, redirected to HTTPS.
resource "aws_vpc_security_group_ingress_rule" "lb_http" {
  security_group_id = aws_security_group.lb.id
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

# HTTPS.
resource "aws_vpc_security_group_ingress_rule" "lb_https" {
  security_group_id = aws_security_group.lb.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# The stats page, behind a password, from the admin network only.
resource "aws_vpc_security_group_ingress_rule" "lb_stats" {
  security_group_id = aws_security_group.lb.id
  ip_protocol       = "tcp"
  from_port         = 8404
  to_port           = 8404
  cidr_ipv4         = var.admin_cidr
}

# Static files, for the load balancer.
resource "aws_vpc_security_group_ingress_rule" "static_from_lb" {
  security_group_id            = aws_security_group.static.id
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = aws_security_group.lb.id
}

# Requests, from the load balancer only.
resource "aws_vpc_security_group_ingress_rule" "app_from_lb" {
  security_group_id            = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
  referenced_security_group_id = aws_security_group.lb.id
}

# Queries, from the app servers only, to the primary and the replicas.
resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  security_group_id            = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.app.id
}

# Replication: the replicas stream from the primary.
resource "aws_vpc_security_group_ingress_rule" "db_from_db" {
  security_group_id            = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

# The cache, from the app servers only.
resource "aws_vpc_security_group_ingress_rule" "cache_from_app" {
  security_group_id            = aws_security_group.cache.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.app.id
}

# No request to the bucket without TLS (deploy/aws/s3-bucket-policy.json).
resource "aws_s3_bucket_policy" "tls_only" {
  bucket = var.bucket
  policy = templatefile("${path.module}/s3-bucket-policy.json", { bucket = var.bucket })
}
