# IAM roles for service accounts: ExternalDNS (Route 53 changes on the
# environment's zone) and External Secrets (reads of the environment's
# secrets). Role names carry the contract's suffix so builds never share a
# role with each other or with the persistent deployment. The platform's
# guard `limits: {maxDestroy: 0}` refuses any plan that would delete one.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
  backend "s3" {}
}

variable "irsa_role_suffix" { type = string }
variable "env" { type = string }
variable "tags" { type = map(string) }
variable "oidc_provider_arn" { type = string }

provider "aws" {
  default_tags { tags = var.tags }
}

locals {
  issuer = replace(var.oidc_provider_arn, "/^arn:aws:iam::[0-9]+:oidc-provider\\//", "")
  service_accounts = {
    external-dns     = "system:serviceaccount:external-dns:external-dns"
    external-secrets = "system:serviceaccount:external-secrets:external-secrets"
  }
}

data "aws_iam_policy_document" "assume" {
  for_each = local.service_accounts
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = [each.value]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = local.service_accounts
  name               = "${each.key}-${var.irsa_role_suffix}"
  assume_role_policy = data.aws_iam_policy_document.assume[each.key].json
}

data "aws_iam_policy_document" "external_dns" {
  statement {
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = ["arn:aws:route53:::hostedzone/*"]
  }
  statement {
    actions   = ["route53:ListHostedZones", "route53:ListResourceRecordSets", "route53:ListTagsForResource"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "external_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["arn:aws:secretsmanager:*:*:secret:goldenpath/${var.env}/*"]
  }
}

resource "aws_iam_role_policy" "external_dns" {
  role   = aws_iam_role.this["external-dns"].id
  policy = data.aws_iam_policy_document.external_dns.json
}

resource "aws_iam_role_policy" "external_secrets" {
  role   = aws_iam_role.this["external-secrets"].id
  policy = data.aws_iam_policy_document.external_secrets.json
}

output "external_dns_role_arn" { value = aws_iam_role.this["external-dns"].arn }
output "external_secrets_role_arn" { value = aws_iam_role.this["external-secrets"].arn }
