# Stand-in for infra/irsa: the IAM roles' names as outputs, one
# `terraform_data` resource, the S3 backend. No role is created.
terraform {
  backend "s3" {}
}

variable "irsa_role_suffix" { type = string }
variable "env" { type = string }
variable "tags" { type = map(string) }
variable "oidc_provider_arn" { type = string }

resource "terraform_data" "roles" {
  input = { suffix = var.irsa_role_suffix, env = var.env, oidc = var.oidc_provider_arn, tags = var.tags }
}

output "external_dns_role_arn" {
  value = "arn:aws:iam::123456789012:role/external-dns-${terraform_data.roles.output.suffix}"
}
output "external_secrets_role_arn" {
  value = "arn:aws:iam::123456789012:role/external-secrets-${terraform_data.roles.output.suffix}"
}
