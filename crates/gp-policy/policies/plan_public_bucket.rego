# id: plan-no-public-bucket
# subject: plan
# rationale: a public S3 bucket publishes whatever lands in it
package goldenpath.builtin.plan_public_bucket

import data.goldenpath.lib

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket_public_access_block"
	data.goldenpath.lib.writes(rc)
	some key in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	rc.change.after[key] == false
	msg := sprintf("%s turns %s off", [rc.address, key])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.type in {"aws_s3_bucket_acl", "aws_s3_bucket"}
	data.goldenpath.lib.writes(rc)
	rc.change.after.acl in {"public-read", "public-read-write", "authenticated-read"}
	msg := sprintf("%s has the public ACL %s", [rc.address, rc.change.after.acl])
}
