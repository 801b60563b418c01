# Unit tests of the built-in rules (`goldenpath policy test --builtin`).
package goldenpath.builtin_test

import data.goldenpath.builtin.image_pinned
import data.goldenpath.builtin.plan_public_bucket

ctx := {"object": {"file": "apps/dev/persistent/web/manifests/d.yaml", "line": 1, "component": "web"}}

pod(image) := {"kind": "Pod", "spec": {"containers": [{"name": "c", "image": image}]}}

test_latest_is_refused if {
	count(image_pinned.deny) == 1 with input as pod("nginx:latest") with data.goldenpath as ctx
}

test_untagged_is_refused if {
	count(image_pinned.deny) == 1 with input as pod("registry.io:5000/team/nginx") with data.goldenpath as ctx
}

test_a_tag_or_digest_passes if {
	count(image_pinned.deny) == 0 with input as pod("nginx:1.27") with data.goldenpath as ctx
	count(image_pinned.deny) == 0 with input as pod("nginx@sha256:0123") with data.goldenpath as ctx
}

test_a_public_access_block_turned_off_is_refused if {
	plan := {"resource_changes": [{
		"address": "aws_s3_bucket_public_access_block.b",
		"type": "aws_s3_bucket_public_access_block",
		"change": {"actions": ["create"], "after": {"block_public_acls": false, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}},
	}]}
	count(plan_public_bucket.deny) == 1 with input as plan with data.goldenpath as ctx
}
