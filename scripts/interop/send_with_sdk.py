#!/usr/bin/env python3
"""Sends events through consentgate with the real segment-analytics-python SDK.

Usage: send_with_sdk.py HOST WRITE_KEY PLAN_JSON [--gzip] [--max-retries N] [--upload-size N]
                        [--pause-after N --resume-when PATH]

PLAN_JSON is a file holding a list of events: {"user_id", "anonymous_id", "event", "stamp"}
(stamp: a categoryPreferences object, or null for none). Prints one JSON object:
{"sent": [messageId, ...], "errors": [...], "failed": [messageId, ...]} after the SDK has flushed and shut
down; "failed" holds the messageIds of the uploads the SDK gave up on (the rest of "sent" was answered 200).

With --pause-after N, the script stops enqueueing after N events (the SDK keeps uploading those) until
PATH exists, then enqueues the rest: a test can act (kill the gateway) while a run is surely unfinished.
"""
import json
import os
import sys
import time
import uuid

import segment.analytics as analytics


def main() -> int:
    host, write_key, plan_path = sys.argv[1], sys.argv[2], sys.argv[3]
    options = sys.argv[4:]
    use_gzip = "--gzip" in options
    max_retries = int(options[options.index("--max-retries") + 1]) if "--max-retries" in options else 10
    upload_size = int(options[options.index("--upload-size") + 1]) if "--upload-size" in options else 25
    pause_after = int(options[options.index("--pause-after") + 1]) if "--pause-after" in options else None
    resume_when = options[options.index("--resume-when") + 1] if "--resume-when" in options else None
    errors = []
    failed = []

    def on_error(error, items):
        errors.append(f"{type(error).__name__}: {error} ({len(items)} items)")
        failed.extend(item.get("messageId") for item in items if isinstance(item, dict))

    client = analytics.Client(
        write_key=write_key,
        host=host,
        gzip=use_gzip,
        on_error=on_error,
        max_retries=max_retries,
        upload_size=upload_size,
        upload_interval=0.1,
        timeout=10,
    )
    with open(plan_path) as f:
        plan = json.load(f)
    sent = []
    for item in plan:
        if pause_after is not None and len(sent) == pause_after:
            deadline = time.monotonic() + 60
            while not os.path.exists(resume_when) and time.monotonic() < deadline:
                time.sleep(0.01)
        message_id = item.get("message_id") or str(uuid.uuid4())
        context = {"library": {"name": "analytics-python", "version": "interop"}}
        if item.get("stamp") is not None:
            context["consent"] = {"categoryPreferences": item["stamp"]}
        ok, _ = client.track(
            user_id=item.get("user_id"),
            anonymous_id=item.get("anonymous_id"),
            event=item.get("event", "Interop Event"),
            properties={"index": len(sent)},
            context=context,
            message_id=message_id,
        )
        if ok:
            sent.append(message_id)
    client.flush()
    client.shutdown()
    print(json.dumps({"sent": sent, "errors": errors, "failed": failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
