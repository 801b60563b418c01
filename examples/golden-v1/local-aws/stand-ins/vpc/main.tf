# Stand-in for infra/vpc on a machine without the AWS provider: the same
# variables and outputs, one `terraform_data` resource (built into
# Terraform), and the same S3 backend, so state, locks and teardown behave
# as they do for the real root.
terraform {
  backend "s3" {}
}

variable "name_prefix" { type = string }
variable "env" { type = string }
variable "tags" { type = map(string) }
variable "cidr" {
  type    = string
  default = "10.40.0.0/16"
}

resource "terraform_data" "vpc" {
  input = { name = "${var.name_prefix}-vpc", env = var.env, cidr = var.cidr, tags = var.tags }
}

output "vpc_id" { value = "vpc-${substr(sha1(terraform_data.vpc.id), 0, 17)}" }
output "private_subnet_ids" {
  value = [for z in ["a", "b", "c"] : "subnet-private-${z}-${substr(sha1(terraform_data.vpc.id), 0, 8)}"]
}
output "public_subnet_ids" {
  value = [for z in ["a", "b", "c"] : "subnet-public-${z}-${substr(sha1(terraform_data.vpc.id), 0, 8)}"]
}
