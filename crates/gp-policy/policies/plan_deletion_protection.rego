# id: plan-prod-deletion-protection
# subject: plan
# rationale: a production database is deleted only on purpose
package goldenpath.builtin.plan_deletion_protection

import data.goldenpath.lib

deny contains msg if {
	data.goldenpath.production
	some rc in input.resource_changes
	rc.type in {"aws_db_instance", "aws_rds_cluster", "aws_docdb_cluster", "aws_neptune_cluster"}
	data.goldenpath.lib.writes(rc)
	not rc.change.after.deletion_protection == true
	msg := sprintf("%s has no deletion_protection in the production environment %s", [rc.address, data.goldenpath.env])
}
