# Stand-in for the platform's IRSA root: one `terraform_data` per service
# account role, named with the contract's role suffix. No IAM role is made.
terraform {
  backend "local" {}
}

variable "oidc_issuer" { type = string }
variable "irsa_role_suffix" { type = string }
variable "build_id" { type = string }
variable "tags" { type = map(string) }

locals {
  roles = ["external-dns", "external-secrets"]
}

resource "terraform_data" "role" {
  for_each = toset(local.roles)
  input = {
    name   = "${each.key}${var.irsa_role_suffix}"
    issuer = var.oidc_issuer
    tags   = var.tags
  }
}

output "role_names" {
  value = { for k, r in terraform_data.role : k => r.output.name }
}
