# id: no-privileged
# subject: manifests
# rationale: a privileged container is root on the node
package goldenpath.builtin.no_privileged

import data.goldenpath.lib

deny contains msg if {
	some c in lib.containers
	c.securityContext.privileged == true
	msg := sprintf("container `%s` is privileged", [c.name])
}

deny contains msg if {
	some [path, value] in data.goldenpath.lib.values_at("privileged")
	value == true
	msg := sprintf("values `%s`: a privileged container", [data.goldenpath.lib.where(path)])
}
