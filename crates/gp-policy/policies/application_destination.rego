# id: application-destination
# subject: manifests
# rationale: an Application deploys only into the platform's namespaces and through its Argo CD projects
package goldenpath.builtin.application_destination

deny contains msg if {
	input.kind == "Application"
	ns := input.spec.destination.namespace
	not ns in data.goldenpath.allowedNamespaces
	msg := sprintf("Application `%s` targets the namespace `%s`, which is not allowed", [input.metadata.name, ns])
}

deny contains msg if {
	input.kind == "Application"
	project := object.get(input.spec, "project", "default")
	not project in data.goldenpath.allowedProjects
	msg := sprintf("Application `%s` uses the project `%s`, which is not allowed", [input.metadata.name, project])
}
