"""What every job's ops stand on: the item lifecycle (lifecycle.py), intake from the CLI and the
Launchpad (intake.py), inbox folders (inbox.py), the retry vocabulary (retry.py), run tags (tags.py),
error remediation hints (remediation.py) and metadata tables (markdown.py). Nothing here imports a job."""
