"""Every object the operator creates, built from the spec and the plan: scene and combine Jobs
(`jobs`), the plan/chunks/stitch Jobs of a chunked scene (`chunks`), and their names and labels
(`naming`). Pure: no client, no I/O."""
