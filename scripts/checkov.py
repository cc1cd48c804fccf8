#!/usr/bin/env python3
"""checkov on CloudFormation templates: every failed check, and every skipped check without a reason,
fails the run.

A check that does not apply to a resource is skipped in the resource's own Metadata
(`checkov: {skip: [{id, comment}]}`), which `pipewright generate` writes with the reason as the comment.

Usage: scripts/checkov.py DIR...   (each DIR is scanned recursively for templates; the checkov executable is
$CHECKOV, else `checkov` on the PATH)
"""

import json
import os
import subprocess
import sys

# The reason checkov reports for a skip written without a comment.
NO_COMMENT = {"", "No comment provided"}


def scan(directory):
    # --skip-download: no call to the vendor's platform (guidelines, custom policies); the checks
    # are the ones of the pinned release.
    run = subprocess.run(
        [os.environ.get("CHECKOV", "checkov"), "-d", directory, "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1):
        sys.exit(f"checkov failed on {directory} (exit {run.returncode}):\n{run.stderr}")
    reports = json.loads(run.stdout)
    return reports if isinstance(reports, list) else [reports]


def main(directories):
    if not directories:
        sys.exit(__doc__)
    problems, passed, skipped, unexplained, resources = [], 0, 0, 0, 0
    for directory in directories:
        for report in scan(directory):
            results, summary = report["results"], report["summary"]
            passed += summary["passed"]
            skipped += summary["skipped"]
            resources += summary["resource_count"]
            if summary["parsing_errors"]:
                problems.append(f"{directory}: {summary['parsing_errors']} template(s) checkov could not parse")
            for check in results.get("failed_checks", []):
                problems.append(
                    f"{check['file_path']}: {check['resource']}: {check['check_id']} {check['check_name']}"
                )
            for check in results.get("skipped_checks", []):
                comment = (check["check_result"].get("suppress_comment") or "").strip()
                if comment in NO_COMMENT:
                    unexplained += 1
                    problems.append(
                        f"{check['file_path']}: {check['resource']}: {check['check_id']} skipped without a reason"
                    )
    if resources == 0:
        problems.append(f"no resources found in {' '.join(directories)}")
    for problem in problems:
        print(problem)
    print(f"checkov: {resources} resources, {passed} checks passed, {skipped - unexplained} skipped with a reason, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
