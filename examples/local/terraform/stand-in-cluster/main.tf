# Stand-in for the platform's EKS root. It creates no cluster: one
# `terraform_data` resource (built into Terraform, no provider download)
# carries the names goldenpath derives, so state, workspaces, plans and
# teardown behave as they would for the real root.
terraform {
  backend "local" {}
}

variable "cluster_name" { type = string }
variable "env" { type = string }
variable "build_id" { type = string }
variable "deployment_lifecycle" { type = string }
variable "tags" { type = map(string) }

resource "terraform_data" "cluster" {
  input = {
    name      = var.cluster_name
    env       = var.env
    build_id  = var.build_id
    lifecycle = var.deployment_lifecycle
    tags      = var.tags
  }
}

output "cluster_name" { value = terraform_data.cluster.output.name }

# Where the cluster's ingress answers; on one machine, the loopback address.
output "ingress_address" { value = "127.0.0.1" }

output "oidc_issuer" {
  value = "https://oidc.eks.local/id/${terraform_data.cluster.output.name}"
}
