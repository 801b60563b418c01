# id: resources-set
# subject: manifests
# rationale: a container without requests and limits can starve its neighbours and cannot be scheduled predictably
package goldenpath.builtin.resources_set

import data.goldenpath.lib

deny contains msg if {
	some c in lib.containers
	not c.resources.requests
	msg := sprintf("container `%s` sets no resource requests", [c.name])
}

deny contains msg if {
	some c in lib.containers
	not c.resources.limits
	msg := sprintf("container `%s` sets no resource limits", [c.name])
}
