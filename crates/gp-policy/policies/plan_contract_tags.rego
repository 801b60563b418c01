# id: plan-contract-tags
# subject: plan
# rationale: the contract's tags are how cost, ownership and the orphan sweep find a resource
package goldenpath.builtin.plan_contract_tags

import data.goldenpath.lib

# The tags a resource will have: tags_all (with the provider's
# default_tags) when known, else tags.
tags(after) := after.tags_all if is_object(after.tags_all)

tags(after) := after.tags if {
	not is_object(after.tags_all)
	is_object(after.tags)
}

tags(after) := {} if {
	not is_object(after.tags_all)
	not is_object(after.tags)
}

deny contains msg if {
	some rc in input.resource_changes
	data.goldenpath.lib.writes(rc)
	object.keys(rc.change.after)["tags"]
	not object.get(object.get(rc.change, "after_unknown", {}), "tags_all", false) == true
	have := tags(rc.change.after)
	some key, want in data.goldenpath.tags
	object.get(have, key, null) != want
	msg := sprintf("%s: the tag %s is not %s", [rc.address, key, want])
}
