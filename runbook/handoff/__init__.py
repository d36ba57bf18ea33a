"""What the source account's owner must change, in order: `runbook handoff` and its screen.

The source is read-only to this tool, so every change the playbook needs there
(a read replica with binary logs, replication rules, a role for the trigger, an
endpoint service or an ingress rule, revoking writes at the cutover, granting
them back after a rollback, and removing it all at decommission) is a request
to its owner. `model` holds a request and the AWS CLI call it asks for;
`evidence` reads the latest check results from the audit log; `build` derives
the requests from the runbook's steps and that evidence (`sources` holds the
requests per concern); `render` writes the Markdown through `templates/`.
"""
