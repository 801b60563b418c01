# Stand-in for infra/cluster: the EKS root's variables and outputs, one
# `terraform_data` resource, the S3 backend. No cluster is created; the
# ingress hostname is a name under the load balancer domain, as the real
# root's would be.
terraform {
  backend "s3" {}
}

variable "cluster_name" { type = string }
variable "env" { type = string }
variable "build_id" { type = string }
variable "deployment_lifecycle" { type = string }
variable "tags" { type = map(string) }
variable "vpc_id" { type = string }
variable "private_subnet_ids" { type = list(string) }
variable "kubernetes_version" {
  type    = string
  default = "1.31"
}
# Seconds the create takes (TF_VAR_delay): a test kills a runner mid-apply.
variable "delay" {
  type    = number
  default = 0
}

resource "terraform_data" "cluster" {
  input = {
    name      = var.cluster_name
    env       = var.env
    build_id  = var.build_id
    lifecycle = var.deployment_lifecycle
    vpc_id    = var.vpc_id
    subnets   = var.private_subnet_ids
    tags      = var.tags
  }
  provisioner "local-exec" {
    command = "sleep ${var.delay}"
  }
}

output "cluster_name" { value = terraform_data.cluster.output.name }
output "endpoint" { value = "https://${terraform_data.cluster.output.name}.eks.local" }
output "oidc_provider_arn" {
  value = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.local/id/${terraform_data.cluster.output.name}"
}
output "oidc_issuer" { value = "https://oidc.eks.local/id/${terraform_data.cluster.output.name}" }
output "ingress_hostname" {
  value = "${terraform_data.cluster.output.name}-ingress.elb.eu-west-2.amazonaws.com"
}
