# id: plan-protected-address
# subject: plan
# rationale: a protected address (the component's `protect`) is never deleted or replaced by a deploy
package goldenpath.builtin.plan_protected

deny contains msg if {
	some rc in input.resource_changes
	"delete" in rc.change.actions
	some pattern in object.get(data.goldenpath.protect, data.goldenpath.object.component, [])
	glob.match(pattern, [], rc.address)
	msg := sprintf("the plan deletes the protected %s (protect: %s)", [rc.address, pattern])
}
